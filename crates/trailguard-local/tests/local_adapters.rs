//! The local stand-ins against real files and real local servers.

// Test helpers outside #[test] fns are not covered by clippy.toml's allow-*-in-tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use trailguard_core::ports::{
    ChatMessage, ChatModel, ChatRequest, ChatRole, ContentBlock, Notification, Notifier,
    ObjectReader, ObjectRef, ObjectWriter, PortError, PortErrorKind,
};
use trailguard_local::{
    AlertRecord, DeterministicChat, DirStore, JsonlNotifier, ScriptedChat, SmtpConfig,
    SmtpNotifier, WebhookConfig, WebhookNotifier,
};
use trailguard_testkit::{HttpSink, SmtpSink};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "trailguard-local-{name}-{}-{}",
        std::process::id(),
        uuid_like()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn uuid_like() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

#[tokio::test]
async fn dir_store_put_get_tag_copy_delete() {
    let root = temp_dir("store");
    let store = DirStore::new(&root);
    let png = b"\x89PNG\r\n\x1a\nfake".to_vec();
    store
        .put(
            "uploads",
            "images/cat 1.png",
            png.clone(),
            Some("image/png"),
        )
        .await
        .unwrap();
    assert!(root.join("uploads/images/cat 1.png").is_file());

    let object = store
        .get(&ObjectRef::new("uploads", "images/cat 1.png"))
        .await
        .unwrap();
    assert_eq!(object.bytes, png);
    assert_eq!(object.content_type.as_deref(), Some("image/png"));
    assert!(object.etag.unwrap().starts_with('"'));

    let tags = vec![("pii".to_owned(), "true".to_owned())];
    store
        .copy(
            &ObjectRef::new("uploads", "images/cat 1.png"),
            "quarantine",
            "cat.png",
            &tags,
        )
        .await
        .unwrap();
    assert!(store
        .tags("uploads", "images/cat 1.png")
        .await
        .unwrap()
        .is_empty());
    let copy = store
        .get(&ObjectRef::new("quarantine", "cat.png"))
        .await
        .unwrap();
    assert_eq!(copy.bytes, png);
    assert_eq!(copy.content_type.as_deref(), Some("image/png"));
    assert_eq!(store.tags("quarantine", "cat.png").await.unwrap(), tags);

    store
        .delete(&ObjectRef::new("uploads", "images/cat 1.png"))
        .await
        .unwrap();
    let missing = store
        .get(&ObjectRef::new("uploads", "images/cat 1.png"))
        .await
        .unwrap_err();
    assert_eq!(missing.kind, PortErrorKind::NotFound);
    assert_eq!(missing.code.as_deref(), Some("NoSuchKey"));
    // Deleting again (a missing object) succeeds, as on S3.
    store
        .delete(&ObjectRef::new("uploads", "images/cat 1.png"))
        .await
        .unwrap();
    store
        .delete(&ObjectRef::new("never-made", "x"))
        .await
        .unwrap();

    let no_bucket = store
        .get(&ObjectRef::new("nobucket", "x"))
        .await
        .unwrap_err();
    assert_eq!(no_bucket.code.as_deref(), Some("NoSuchBucket"));
    let uncopyable = store
        .copy(&ObjectRef::new("uploads", "gone.png"), "q", "x", &tags)
        .await
        .unwrap_err();
    assert_eq!(uncopyable.kind, PortErrorKind::NotFound);
    std::fs::remove_dir_all(root).unwrap();
}

#[tokio::test]
async fn dir_store_refuses_keys_that_escape_the_root() {
    let root = temp_dir("escape");
    let outside = temp_dir("outside");
    std::fs::write(outside.join("secret.txt"), b"secret").unwrap();
    let store = DirStore::new(&root);
    for key in ["../outside.txt", "a/../../x", "/etc/passwd", "a\0b"] {
        let error = store.put("b", key, b"x".to_vec(), None).await.unwrap_err();
        assert_eq!(error.kind, PortErrorKind::InvalidInput, "{key:?}");
        assert!(store.get(&ObjectRef::new("b", key)).await.is_err());
        assert!(store.delete(&ObjectRef::new("b", key)).await.is_err());
    }
    // A symlinked directory inside the bucket must not lead outside the root.
    std::fs::create_dir_all(root.join("b")).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("b/link")).unwrap();
    let error = store
        .get(&ObjectRef::new("b", "link/secret.txt"))
        .await
        .unwrap_err();
    assert_eq!(error.kind, PortErrorKind::AccessDenied);
    let error = store
        .put("b", "link/new.txt", b"x".to_vec(), None)
        .await
        .unwrap_err();
    assert_eq!(error.kind, PortErrorKind::AccessDenied);
    assert!(!outside.join("new.txt").exists());
    let error = store
        .delete(&ObjectRef::new("b", "link/secret.txt"))
        .await
        .unwrap_err();
    assert_eq!(error.kind, PortErrorKind::AccessDenied);
    assert!(outside.join("secret.txt").exists());
    std::fs::remove_dir_all(root).unwrap();
    std::fs::remove_dir_all(outside).unwrap();
}

#[tokio::test]
async fn jsonl_notifier_appends_one_object_per_alert() {
    let dir = temp_dir("jsonl");
    let path = dir.join("alerts/alerts.jsonl");
    let notifier = JsonlNotifier::new(&path);
    let first = notifier
        .publish(&Notification::new(
            Some("HIGH: root login"),
            "{\"threat\":\"high\"}\nsecond line",
        ))
        .await
        .unwrap();
    let second = notifier
        .publish(&Notification::new(None, "plain"))
        .await
        .unwrap();
    assert_ne!(first, second);
    let text = std::fs::read_to_string(&path).unwrap();
    let records: Vec<AlertRecord> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].subject.as_deref(), Some("HIGH: root login"));
    assert_eq!(records[0].message, "{\"threat\":\"high\"}\nsecond line");
    assert_eq!(records[0].message_id, first);
    assert!(records[0].time.ends_with('Z'));
    assert_eq!(records[1].subject, None);
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn smtp_notifier_delivers_to_a_local_smtp_server() {
    let sink = SmtpSink::start().await.unwrap();
    let mut config = SmtpConfig::new(
        sink.host(),
        sink.port(),
        "trailguard@example.com",
        vec!["soc@example.com".into(), "oncall@example.com".into()],
    );
    config.subject_prefix = "[TrailGuard] ".into();
    let notifier = SmtpNotifier::new(config).unwrap();
    let id = notifier
        .publish(&Notification::new(
            Some("PII image deleted"),
            "s3://uploads/a.png\n.leading dot line",
        ))
        .await
        .unwrap();
    let mails = sink.mails();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].from, "trailguard@example.com");
    assert_eq!(mails[0].to, vec!["soc@example.com", "oncall@example.com"]);
    assert!(mails[0]
        .data
        .contains("Subject: [TrailGuard] PII image deleted"));
    assert!(mails[0].data.contains(&id));
    assert!(mails[0].data.contains("s3://uploads/a.png"));
    assert!(mails[0].data.contains("\r\n.leading dot line"));
}

#[tokio::test]
async fn smtp_notifier_reports_an_unreachable_server() {
    // Bind then drop to get a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let notifier = SmtpNotifier::new(SmtpConfig::new(
        "127.0.0.1",
        port,
        "a@example.com",
        vec!["b@example.com".into()],
    ))
    .unwrap();
    let error = notifier
        .publish(&Notification::new(Some("x"), "y"))
        .await
        .unwrap_err();
    assert!(error.message.contains(&port.to_string()), "{error}");
    assert!(SmtpNotifier::new(SmtpConfig::new(
        "h",
        25,
        "not an address",
        vec!["b@example.com".into()]
    ))
    .is_err());
}

#[tokio::test]
async fn webhook_notifier_posts_the_alert_as_json() {
    let sink = HttpSink::start().await.unwrap();
    let mut config = WebhookConfig::new(sink.url("/hooks/alerts"));
    config.bearer_token = Some("s3cret".into());
    let notifier = WebhookNotifier::new(config).unwrap();
    let id = notifier
        .publish(&Notification::new(Some("MEDIUM"), "details"))
        .await
        .unwrap();
    let posts = sink.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].path, "/hooks/alerts");
    assert_eq!(posts[0].authorization.as_deref(), Some("Bearer s3cret"));
    let record: AlertRecord = serde_json::from_slice(&posts[0].body).unwrap();
    assert_eq!(record.message_id, id);
    assert_eq!(record.subject.as_deref(), Some("MEDIUM"));

    sink.respond_with(503);
    let error = notifier
        .publish(&Notification::new(None, "x"))
        .await
        .unwrap_err();
    assert_eq!(error.kind, PortErrorKind::Unavailable);
    assert_eq!(error.code.as_deref(), Some("HTTP503"));
}

fn request(text: &str) -> ChatRequest {
    ChatRequest {
        model_id: "anthropic.claude-3-haiku-20240307-v1:0".into(),
        messages: vec![ChatMessage {
            role: ChatRole::User,
            content: vec![ContentBlock::Text(text.into())],
        }],
        ..ChatRequest::default()
    }
}

#[tokio::test]
async fn deterministic_chat_answers_through_the_callback() {
    let chat = DeterministicChat::new(|request: &ChatRequest| {
        let ContentBlock::Text(text) = &request.messages[0].content[0] else {
            return Err(PortError::new(PortErrorKind::InvalidInput, "no text"));
        };
        Ok(format!(
            "{{\"threat_level\":\"low\",\"echo_len\":{}}}",
            text.len()
        ))
    });
    let answer = chat.converse(&request("abc")).await.unwrap();
    assert_eq!(answer.text, "{\"threat_level\":\"low\",\"echo_len\":3}");
    assert_eq!(answer.stop_reason.as_deref(), Some("end_turn"));
}

#[tokio::test]
async fn scripted_chat_answers_in_order_then_runs_out() {
    let chat = ScriptedChat::new([
        Ok("first".to_owned()),
        Err(PortError::new(PortErrorKind::Throttled, "slow down").with_code("ThrottlingException")),
        Ok("third".to_owned()),
    ]);
    assert_eq!(chat.converse(&request("a")).await.unwrap().text, "first");
    assert_eq!(
        chat.converse(&request("b")).await.unwrap_err().kind,
        PortErrorKind::Throttled
    );
    assert_eq!(chat.converse(&request("c")).await.unwrap().text, "third");
    let exhausted = chat.converse(&request("d")).await.unwrap_err();
    assert_eq!(exhausted.code.as_deref(), Some("ScriptExhausted"));
    assert_eq!(chat.requests().len(), 4);
}
