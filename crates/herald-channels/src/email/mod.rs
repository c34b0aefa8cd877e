//! Email: SMTP delivery with DKIM, and the feedback of the mail system.

pub mod dkim;
pub mod feedback;
pub mod message;
pub mod smtp;

pub use dkim::{DkimAlgorithm, DkimError, DkimSigner};
pub use message::{Email, ListUnsubscribe};
pub use smtp::{SmtpConfig, SmtpConfigError, SmtpCredentials, SmtpSecurity, SmtpSender};
