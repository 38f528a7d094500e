//! S3 uploads against a moto server: the SHA-256 goes with every upload (S3 checks it), is
//! seen again by observe, and large files go up in parts with per-part checksums.

use crate::support::{cloud, sdk, Moto};
use sha2::{Digest, Sha256};
use std::io::Write;
use vibes_core::cloud::prelude::*;

async fn bucket(moto: &Moto, name: &str) {
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk(moto).await)
            .force_path_style(true)
            .build(),
    );
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
    aws.put_object_from_file(
        "objects-sources",
        "ccr/bayou_country/1/1-born_on_the_bayou.wav",
        wav.path(),
        &sha,
    )
    .await
    .unwrap();
    aws.put_object(
        "objects-sources",
        "ccr/tags.vc",
        b"ARTIST=Creedence Clearwater Revival\n".to_vec(),
    )
    .await
    .unwrap();

    let before = aws.calls();
    let seen = aws
        .observe("objects", Some("objects-sources"))
        .await
        .unwrap();
    // 8 for the project's resources, 1 listing, 1 head per object (no manifest yet).
    assert_eq!(aws.calls() - before, 9 + 1 + 2);
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
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk(&moto).await)
            .force_path_style(true)
            .build(),
    );
    let head = s3
        .head_object()
        .bucket("objects-sources")
        .key("ccr/bayou_country/1/1-born_on_the_bayou.wav")
        .send()
        .await
        .unwrap();
    assert_eq!(head.metadata().and_then(|m| m.get("sha256")), Some(&sha));

    aws.delete_objects(
        "objects-sources",
        &["ccr/tags.vc".to_string(), "ccr/never-there".to_string()],
    )
    .await
    .unwrap();
    let listed = aws.list_bucket("objects-sources").await.unwrap().unwrap();
    assert_eq!(
        listed.objects.keys().collect::<Vec<_>>(),
        ["ccr/bayou_country/1/1-born_on_the_bayou.wav"]
    );

    assert_eq!(
        aws.list_bucket("objects-no-such-bucket").await.unwrap(),
        None
    );
    assert!(aws
        .observe("objects", Some("objects-no-such-bucket"))
        .await
        .unwrap()
        .sources_bucket
        .is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_of_64_mib_goes_up_in_parts_and_keeps_its_sha256() {
    let moto = Moto::start();
    let aws = cloud(&moto).await;
    bucket(&moto, "multipart-sources").await;

    let big: Vec<u8> = (0..vibes_aws::MULTIPART_THRESHOLD as usize + 12345)
        .map(|i| (i * 31 % 251) as u8)
        .collect();
    let (file, sha) = file_of(&big);
    let before = aws.calls();
    aws.put_object_from_file("multipart-sources", "big.flac", file.path(), &sha)
        .await
        .unwrap();
    // create + 5 parts of 16 MiB (the last one short) + complete.
    assert_eq!(aws.calls() - before, 1 + 5 + 1);

    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk(&moto).await)
            .force_path_style(true)
            .build(),
    );
    let head = s3
        .head_object()
        .bucket("multipart-sources")
        .key("big.flac")
        .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(big.len() as i64));
    let listed = aws.list_bucket("multipart-sources").await.unwrap().unwrap();
    assert_eq!(
        listed.objects["big.flac"].sha256.as_deref(),
        Some(sha.as_str())
    );

    // A file whose content is not what the caller hashed is never completed.
    let wrong = "0".repeat(64);
    let err = aws
        .put_object_from_file("multipart-sources", "wrong.flac", file.path(), &wrong)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("content changed since it was scanned"),
        "{err}"
    );
    assert!(!aws
        .list_bucket("multipart-sources")
        .await
        .unwrap()
        .unwrap()
        .objects
        .contains_key("wrong.flac"));
    let uploads = s3
        .list_multipart_uploads()
        .bucket("multipart-sources")
        .send()
        .await
        .unwrap();
    assert!(
        uploads.uploads().is_empty(),
        "the failed upload was aborted"
    );
}

/// Uploads `n` small objects as a sync does, then writes the manifest; returns the bucket.
async fn synced_bucket(
    moto: &Moto,
    aws: &vibes_aws::AwsCloud,
    name: &str,
    n: usize,
) -> std::collections::BTreeMap<String, String> {
    bucket(moto, name).await;
    let mut uploaded = vibes_core::bucket_manifest::Uploaded::new();
    let mut hashes = std::collections::BTreeMap::new();
    for i in 0..n {
        let body = format!("track {i} of {name}");
        let (file, sha) = file_of(body.as_bytes());
        let key = format!("artist/album/{i:04}.flac");
        aws.put_object_from_file(name, &key, file.path(), &sha)
            .await
            .unwrap();
        uploaded.insert(
            key.clone(),
            vibes_core::observed::ObservedObject {
                size: body.len() as u64,
                sha256: Some(sha.clone()),
            },
        );
        hashes.insert(key, sha);
    }
    aws.write_bucket_manifest(name, "rev1", &uploaded)
        .await
        .unwrap();
    hashes
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bucket_synced_by_vibes_is_read_in_a_constant_number_of_calls() {
    let moto = Moto::start();
    let aws = cloud(&moto).await;
    let mut costs = Vec::new();
    for (name, n) in [("manifest-small", 20), ("manifest-large", 250)] {
        let hashes = synced_bucket(&moto, &aws, name, n).await;
        let before = aws.calls();
        let seen = aws.list_bucket(name).await.unwrap().unwrap();
        costs.push(aws.calls() - before);
        for (key, sha) in &hashes {
            assert_eq!(seen.objects[key].sha256.as_ref(), Some(sha), "{key}");
        }
        assert!(seen
            .objects
            .contains_key(vibes_core::bucket_manifest::MANIFEST_KEY));
        assert_eq!(seen.objects.len(), n + 1);
    }
    eprintln!(
        "list_bucket calls: 20 objects {}, 250 objects {}",
        costs[0], costs[1]
    );
    // One ListObjectsV2 page and one GetObject of the manifest, whatever the number of objects.
    assert_eq!(costs, [2, 2]);
}

#[tokio::test(flavor = "multi_thread")]
async fn objects_changed_behind_the_manifest_are_read_again() {
    let moto = Moto::start();
    let aws = cloud(&moto).await;
    let hashes = synced_bucket(&moto, &aws, "manifest-drift", 10).await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk(&moto).await)
            .force_path_style(true)
            .build(),
    );
    // Rewritten by hand, same size, no sha256 metadata: the ETag differs, the manifest is not trusted.
    let key = "artist/album/0003.flac";
    s3.put_object()
        .bucket("manifest-drift")
        .key(key)
        .body(b"track X of manifest-drift".to_vec().into())
        .send()
        .await
        .unwrap();
    // Added by hand with the metadata a vibes upload carries.
    let extra = b"a bonus track";
    s3.put_object()
        .bucket("manifest-drift")
        .key("artist/album/bonus.flac")
        .metadata("sha256", hex::encode(Sha256::digest(extra)))
        .body(extra.to_vec().into())
        .send()
        .await
        .unwrap();

    let before = aws.calls();
    let seen = aws.list_bucket("manifest-drift").await.unwrap().unwrap();
    // Listing, manifest, and one HeadObject each for the two objects the manifest cannot vouch for.
    assert_eq!(aws.calls() - before, 2 + 2);
    assert_eq!(
        seen.objects[key].sha256, None,
        "no hash is claimed for content vibes did not write"
    );
    assert_eq!(
        seen.objects["artist/album/bonus.flac"].sha256,
        Some(hex::encode(Sha256::digest(extra)))
    );
    assert_eq!(
        seen.objects["artist/album/0004.flac"].sha256.as_ref(),
        Some(&hashes["artist/album/0004.flac"])
    );

    // The next sync's manifest covers the hand-added object (read once, here) and keeps the
    // changed one out, so it is compared on its own again.
    aws.write_bucket_manifest("manifest-drift", "rev2", &Default::default())
        .await
        .unwrap();
    let before = aws.calls();
    let again = aws.list_bucket("manifest-drift").await.unwrap().unwrap();
    assert_eq!(aws.calls() - before, 2 + 1);
    assert_eq!(
        again.objects["artist/album/bonus.flac"],
        seen.objects["artist/album/bonus.flac"]
    );
}
