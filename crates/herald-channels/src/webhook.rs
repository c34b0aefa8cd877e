//! Webhooks signed as Standard Webhooks.
