//! Email: SMTP delivery with DKIM, and the feedback of the mail system.

pub mod dkim;
pub mod feedback;
pub mod smtp;

pub use dkim::{DkimAlgorithm, DkimError, DkimSigner};
pub use smtp::{
    Email, ListUnsubscribe, SmtpConfig, SmtpConfigError, SmtpCredentials, SmtpSecurity, SmtpSender,
};
