//! The embedded mailer: a Maildir outbox, one RFC 5322 file per e-mail in
//! `new/`, never visible half-written. Open it with any mail client
//! (`mutt -f DIR/outbox`).
//!
//! On Linux a message is written to an unnamed file (`O_TMPFILE`) and
//! linked into `new/` once complete: the same guarantee as Maildir's
//! write-to-`tmp/`-then-rename, with one directory change instead of two,
//! which is most of the cost of a message. Elsewhere, or where the file
//! system lacks `O_TMPFILE`, it is the classic `tmp/` and rename.

use std::path::{Path, PathBuf};

use async_trait::async_trait;

use crate::mime;
use crate::ports::{Mailer, OutgoingEmail, PortError, PortResult, SendError, SenderCheck};

#[derive(Clone)]
pub struct MaildirOutbox {
    root: PathBuf,
}

impl MaildirOutbox {
    pub fn open(root: &Path) -> std::io::Result<Self> {
        for sub in ["tmp", "new", "cur"] {
            std::fs::create_dir_all(root.join(sub))?;
        }
        Ok(Self {
            root: root.to_owned(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl MaildirOutbox {
    fn deliver(&self, email: &OutgoingEmail) -> PortResult<String> {
        let bytes = mime::render(email);
        // The message id is derived from the ledger key, so it is unique per
        // message and the file name says when it was sent.
        let name = format!("{}.{}.sunset", email.date.timestamp(), email.message_id);
        let target = self.root.join("new").join(&name);
        #[cfg(target_os = "linux")]
        if link_unnamed(&self.root.join("new"), &target, &bytes).map_err(PortError::retryable)? {
            return Ok(email.message_id.clone());
        }
        let tmp = self.root.join("tmp").join(&name);
        std::fs::write(&tmp, &bytes).map_err(PortError::retryable)?;
        std::fs::rename(&tmp, &target).map_err(PortError::retryable)?;
        Ok(email.message_id.clone())
    }
}

/// Writes `bytes` to an unnamed file in `dir` and links it as `target`.
/// `Ok(false)` when the file system cannot do that (use `tmp/`).
#[cfg(target_os = "linux")]
fn link_unnamed(dir: &Path, target: &Path, bytes: &[u8]) -> std::io::Result<bool> {
    use std::io::Write;
    use std::os::fd::AsRawFd;

    use rustix::fs::{AtFlags, CWD, Mode, OFlags};
    use rustix::io::Errno;

    let flags = OFlags::TMPFILE | OFlags::WRONLY | OFlags::CLOEXEC;
    let fd = match rustix::fs::openat(CWD, dir, flags, Mode::from_bits_truncate(0o600)) {
        Ok(fd) => fd,
        Err(Errno::OPNOTSUPP | Errno::ISDIR | Errno::INVAL | Errno::NOENT) => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    let mut file = std::fs::File::from(fd);
    file.write_all(bytes)?;
    // Linking through /proc needs no privilege, unlike AT_EMPTY_PATH.
    let proc_path = format!("/proc/self/fd/{}", file.as_raw_fd());
    match rustix::fs::linkat(
        CWD,
        proc_path.as_str(),
        CWD,
        target,
        AtFlags::SYMLINK_FOLLOW,
    ) {
        Ok(()) => Ok(true),
        Err(Errno::NOENT) if !Path::new("/proc/self/fd").exists() => Ok(false),
        Err(e) => Err(e.into()),
    }
}

#[async_trait]
impl Mailer for MaildirOutbox {
    async fn send(&self, email: &OutgoingEmail) -> Result<String, SendError> {
        // File writes block: off the async runtime, so a server keeps
        // answering while a wave writes its outbox.
        let (outbox, email) = (self.clone(), email.clone());
        tokio::task::spawn_blocking(move || outbox.deliver(&email))
            .await
            .map_err(|e| PortError::permanent(anyhow::anyhow!("the outbox writer failed: {e}")))?
            .map_err(SendError::Failed)
    }

    async fn sender(&self, _: &crate::domain::EmailAddress) -> PortResult<SenderCheck> {
        Ok(SenderCheck::NotNeeded(
            "the local outbox keeps every message; nothing leaves this machine".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::Mailbox;
    use crate::domain::ledger::{DeliveryKey, Recipient};
    use crate::domain::{CampaignId, CustomerId, EmailAddress, Milestone};

    #[tokio::test]
    async fn a_message_lands_whole_in_new_and_nothing_stays_in_tmp() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = MaildirOutbox::open(dir.path()).unwrap();
        let email = OutgoingEmail {
            from: Mailbox::parse("Orbit <no-reply@orbit.example>").unwrap(),
            reply_to: None,
            to: EmailAddress::parse("a@example.com").unwrap(),
            subject: "Hello".into(),
            text: "text".into(),
            html: "<p>html</p>".into(),
            date: "2027-02-01T09:00:00Z".parse().unwrap(),
            key: DeliveryKey::once(
                &CampaignId::parse("c").unwrap(),
                Recipient::Customer(CustomerId::parse("a").unwrap()),
                Milestone::Announcement,
            ),
            message_id: "announcement.abc".into(),
            attachments: Vec::new(),
        };
        let id = outbox.send(&email).await.unwrap();
        assert_eq!(id, "announcement.abc");
        let new: Vec<_> = std::fs::read_dir(dir.path().join("new")).unwrap().collect();
        assert_eq!(new.len(), 1);
        let path = new[0].as_ref().unwrap().path();
        assert!(
            path.to_string_lossy()
                .ends_with("1801472400.announcement.abc.sunset")
        );
        assert_eq!(std::fs::read(&path).unwrap(), mime::render(&email));
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
    }
}
