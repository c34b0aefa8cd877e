//! The channel clients of `herald-channels` behind the dispatcher's [`Transport`]: SMTP for
//! email, Twilio for SMS, FCM and APNs for push (by the device's platform), and signed webhooks.

use crate::compose::Outgoing;
use crate::delivery::Transport;
use async_trait::async_trait;
use herald_channels::email::SmtpSender;
use herald_channels::push::Platform;
use herald_channels::push::apns::Apns;
use herald_channels::push::fcm::Fcm;
use herald_channels::sms::twilio::Twilio;
use herald_channels::webhook::WebhookSender;
use herald_channels::{Receipt, SendError};
use herald_core::Timestamp;

fn wrong(channel: &str) -> SendError {
    SendError::Permanent(format!(
        "the {channel} client was handed another channel's message"
    ))
}

#[async_trait]
impl Transport for SmtpSender {
    async fn send(&self, out: &Outgoing, _: Timestamp) -> Result<Receipt, SendError> {
        match out {
            Outgoing::Email(e) => SmtpSender::send(self, e).await,
            _ => Err(wrong("email")),
        }
    }
}

#[async_trait]
impl Transport for Twilio {
    async fn send(&self, out: &Outgoing, _: Timestamp) -> Result<Receipt, SendError> {
        match out {
            Outgoing::Sms(s) => Twilio::send(self, s).await,
            _ => Err(wrong("SMS")),
        }
    }
}

#[async_trait]
impl Transport for WebhookSender {
    async fn send(&self, out: &Outgoing, now: Timestamp) -> Result<Receipt, SendError> {
        match out {
            Outgoing::Webhook(w) => WebhookSender::send(self, w, now).await,
            _ => Err(wrong("webhook")),
        }
    }
}

/// Push through FCM for Android devices and APNs for Apple ones; a platform without a
/// configured client falls back to the other (FCM can reach iOS apps that use Firebase).
pub struct PushRouter {
    pub fcm: Option<Fcm>,
    pub apns: Option<Apns>,
}

#[async_trait]
impl Transport for PushRouter {
    async fn send(&self, out: &Outgoing, _: Timestamp) -> Result<Receipt, SendError> {
        let Outgoing::Push(devices) = out else {
            return Err(wrong("push"));
        };
        let Some(device) = devices.first() else {
            return Err(SendError::Permanent("no device".into()));
        };
        match (device.platform, &self.fcm, &self.apns) {
            (Platform::Ios, _, Some(apns)) => apns.send(&device.push).await,
            (_, Some(fcm), _) => fcm.send(&device.push).await,
            (Platform::Android, None, Some(apns)) => apns.send(&device.push).await,
            (_, None, None) => Err(SendError::Permanent(
                "no push provider is configured".into(),
            )),
        }
    }
}
