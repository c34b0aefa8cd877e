//! SMS: Twilio.
//!
//! [`twilio`] sends through Twilio's Programmable Messaging API and reads the status callbacks
//! Twilio posts back as a message moves towards its handset.

pub mod twilio;

pub use twilio::{
    MessageStatus, Sms, StatusCallback, Twilio, TwilioConfig, compute_signature,
    is_invalid_recipient_code, verify_signature,
};
