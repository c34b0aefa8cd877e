//! SMS: Twilio.
