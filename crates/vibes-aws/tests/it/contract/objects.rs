//! S3 objects: uploads (from a file with its SHA-256, and from memory) listed with their sizes
//! and SHA-256, deletes, and a bucket that does not exist.

use super::Subject;
use sha2::{Digest, Sha256};
use std::io::Write;

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub async fn listed_with_sizes_and_sha256_and_deleted(s: &Subject) {
    let cloud = s.cloud();
    s.bucket("ob-sources").await;
    let wav = b"RIFF....WAVEfmt not really audio".to_vec();
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(&wav).unwrap();
    file.flush().unwrap();
    cloud
        .put_object_from_file(
            "ob-sources",
            "ccr/1-born_on_the_bayou.wav",
            file.path(),
            &sha(&wav),
        )
        .await
        .unwrap();
    let tags_vc = b"ARTIST=Creedence Clearwater Revival\n".to_vec();
    cloud
        .put_object("ob-sources", "ccr/tags.vc", tags_vc.clone())
        .await
        .unwrap();

    let listed = cloud
        .list_bucket("ob-sources")
        .await
        .unwrap()
        .expect("the bucket");
    assert_eq!(listed.bucket, "ob-sources");
    let wav_seen = &listed.objects["ccr/1-born_on_the_bayou.wav"];
    assert_eq!(wav_seen.size, wav.len() as u64);
    assert_eq!(wav_seen.sha256.as_deref(), Some(sha(&wav).as_str()));
    let tags_seen = &listed.objects["ccr/tags.vc"];
    assert_eq!(tags_seen.size, tags_vc.len() as u64);
    assert_eq!(tags_seen.sha256.as_deref(), Some(sha(&tags_vc).as_str()));
    let observed = cloud.observe("ob", Some("ob-sources")).await.unwrap();
    assert_eq!(observed.sources_bucket.as_ref(), Some(&listed));

    cloud
        .delete_objects("ob-sources", &["ccr/tags.vc".to_string()])
        .await
        .unwrap();
    let listed = cloud.list_bucket("ob-sources").await.unwrap().unwrap();
    assert_eq!(
        listed.objects.keys().collect::<Vec<_>>(),
        ["ccr/1-born_on_the_bayou.wav"]
    );
    assert_eq!(cloud.list_bucket("ob-nothing").await.unwrap(), None);
}

/// `destroy --include-data`: a versioned bucket holding old versions and a delete marker (a
/// replaced and a deleted file) is emptied of all of them and deleted; a second delete finds
/// nothing.
pub async fn versioned_bucket_emptied_and_deleted(s: &Subject) {
    let cloud = s.cloud();
    s.versioned_bucket("ob-versioned").await;
    for body in ["first take", "second take"] {
        cloud
            .put_object("ob-versioned", "ccr/1-track.wav", body.as_bytes().to_vec())
            .await
            .unwrap();
    }
    cloud
        .put_object("ob-versioned", "ccr/gone.wav", b"gone".to_vec())
        .await
        .unwrap();
    cloud
        .delete_objects("ob-versioned", &["ccr/gone.wav".to_string()])
        .await
        .unwrap();
    cloud.delete_bucket("ob-versioned").await.unwrap();
    assert_eq!(cloud.list_bucket("ob-versioned").await.unwrap(), None);
    assert!(matches!(
        cloud.delete_bucket("ob-versioned").await,
        Err(vibes_core::cloud::CloudError::NotFound { .. })
    ));
}
