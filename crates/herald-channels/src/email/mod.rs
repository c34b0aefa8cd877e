//! Email: SMTP delivery with DKIM, and the feedback of the mail system.
