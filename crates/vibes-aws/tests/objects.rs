//! S3 uploads against a moto server: the SHA-256 goes with every upload (S3 checks it), is
//! seen again by observe, and large files go up in parts with per-part checksums.

mod common;

use common::{cloud, sdk, Moto};
use sha2::{Digest, Sha256};
use std::io::Write;
use vibes_core::cloud::Cloud;

async fn bucket(moto: &Moto, name: &str) {
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk(moto).await).force_path_style(true).build());
    s3.create_bucket().bucket(name).send().await.unwrap();
}

fn file_of(bytes: &[u8]) -> (tempfile::NamedTempFile, String) {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(bytes).unwrap();
    f.flush().unwrap();
    (f, hex::encode(Sha256::digest(bytes)))
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_carry_their_sha256_and_observe_sees_it() {
    let moto = Moto::start();
    let aws = cloud(&moto).await;
    bucket(&moto, "objects-sources").await;

    let content = b"RIFF....WAVEfmt not really audio";
    let (wav, sha) = file_of(content);
    aws.put_object_from_file("objects-sources", "ccr/bayou_country/1/1-born_on_the_bayou.wav", wav.path(), &sha).await.unwrap();
    aws.put_object("objects-sources", "ccr/tags.vc", b"ARTIST=Creedence Clearwater Revival\n".to_vec()).await.unwrap();

    let before = aws.calls();
    let seen = aws.observe("objects", Some("objects-sources")).await.unwrap();
    // 7 for the project's resources, 1 listing, 1 head per object.
    assert_eq!(aws.calls() - before, 7 + 1 + 2);
    let objects = &seen.sources_bucket.as_ref().unwrap().objects;
    let wav_seen = &objects["ccr/bayou_country/1/1-born_on_the_bayou.wav"];
    assert_eq!(wav_seen.sha256.as_deref(), Some(sha.as_str()));
    assert_eq!(wav_seen.size, content.len() as u64);
    assert_eq!(
        objects["ccr/tags.vc"].sha256.as_deref(),
        Some(hex::encode(Sha256::digest(b"ARTIST=Creedence Clearwater Revival\n")).as_str())
    );

    // The SHA-256 also goes with the upload as ChecksumSHA256, so S3 on AWS refuses a body
    // that does not match it (BadDigest). moto neither verifies nor keeps the checksum of a
    // streamed upload, so here only the metadata copy observe relies on can be checked.
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk(&moto).await).force_path_style(true).build());
    let head = s3.head_object().bucket("objects-sources").key("ccr/bayou_country/1/1-born_on_the_bayou.wav").send().await.unwrap();
    assert_eq!(head.metadata().and_then(|m| m.get("sha256")), Some(&sha));

    aws.delete_objects("objects-sources", &["ccr/tags.vc".to_string(), "ccr/never-there".to_string()]).await.unwrap();
    let listed = aws.list_bucket("objects-sources").await.unwrap().unwrap();
    assert_eq!(listed.objects.keys().collect::<Vec<_>>(), ["ccr/bayou_country/1/1-born_on_the_bayou.wav"]);

    assert_eq!(aws.list_bucket("objects-no-such-bucket").await.unwrap(), None);
    assert!(aws.observe("objects", Some("objects-no-such-bucket")).await.unwrap().sources_bucket.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_of_64_mib_goes_up_in_parts_and_keeps_its_sha256() {
    let moto = Moto::start();
    let aws = cloud(&moto).await;
    bucket(&moto, "multipart-sources").await;

    let big: Vec<u8> = (0..vibes_aws::MULTIPART_THRESHOLD as usize + 12345).map(|i| (i * 31 % 251) as u8).collect();
    let (file, sha) = file_of(&big);
    let before = aws.calls();
    aws.put_object_from_file("multipart-sources", "big.flac", file.path(), &sha).await.unwrap();
    // create + 5 parts of 16 MiB (the last one short) + complete.
    assert_eq!(aws.calls() - before, 1 + 5 + 1);

    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk(&moto).await).force_path_style(true).build());
    let head = s3.head_object().bucket("multipart-sources").key("big.flac").checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled).send().await.unwrap();
    assert_eq!(head.content_length(), Some(big.len() as i64));
    let listed = aws.list_bucket("multipart-sources").await.unwrap().unwrap();
    assert_eq!(listed.objects["big.flac"].sha256.as_deref(), Some(sha.as_str()));

    // A file whose content is not what the caller hashed is never completed.
    let wrong = "0".repeat(64);
    let err = aws.put_object_from_file("multipart-sources", "wrong.flac", file.path(), &wrong).await.unwrap_err();
    assert!(err.to_string().contains("content changed since it was scanned"), "{err}");
    assert!(!aws.list_bucket("multipart-sources").await.unwrap().unwrap().objects.contains_key("wrong.flac"));
    let uploads = s3.list_multipart_uploads().bucket("multipart-sources").send().await.unwrap();
    assert!(uploads.uploads().is_empty(), "the failed upload was aborted");
}
