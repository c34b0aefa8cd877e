//! Push: FCM and APNs.
