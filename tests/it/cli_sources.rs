//! The music collection on AWS, end to end against a moto server: `vibes apply` makes the
//! sources bucket hold exactly the local tree (checked from outside with the `aws` CLI, by
//! content hash), a second plan is clean, one changed file is one upload, and a file deleted
//! locally is kept in the bucket unless `[sources] delete = true`.

use crate::support::{cli, moto};
use cli::{code, text};
use moto::Moto;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

const MANIFEST_KEY: &str = ".vibes/manifest.json";

struct Collection {
    dir: tempfile::TempDir,
}

impl Collection {
    /// A config directory with the platform's templates and a generated tree: 3 artists, 2
    /// albums each, 40 tracks an album with their tag files, and one 8 MiB recording.
    fn new() -> Collection {
        let dir = tempfile::tempdir().unwrap();
        let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        std::fs::create_dir_all(dir.path().join("cfn")).unwrap();
        for t in ["vpc.yaml", "main.yaml"] {
            std::fs::copy(repo.join("cfn").join(t), dir.path().join("cfn").join(t)).unwrap();
        }
        for artist in ["ccr", "neil_young", "the_band"] {
            let base = dir.path().join("music").join(artist);
            std::fs::create_dir_all(&base).unwrap();
            std::fs::write(base.join("tags.vc"), format!("ARTIST={artist}\n")).unwrap();
            for album in ["first", "second"] {
                let disc = base.join(album).join("1");
                std::fs::create_dir_all(&disc).unwrap();
                for n in 1..=20 {
                    let body: Vec<u8> = format!("{artist}/{album}/{n}")
                        .bytes()
                        .cycle()
                        .take(512 + n * 7)
                        .collect();
                    std::fs::write(disc.join(format!("{n:02}-track.wav")), body).unwrap();
                    std::fs::write(
                        disc.join(format!("{n:02}-track.tags.vc")),
                        format!("TITLE=Track {n}\n"),
                    )
                    .unwrap();
                }
            }
        }
        let long: Vec<u8> = (0..8 * 1024 * 1024u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        std::fs::write(dir.path().join("music/ccr/first/1/99-jam.wav"), long).unwrap();
        let c = Collection { dir };
        c.configure(false);
        c
    }

    fn configure(&self, delete: bool) {
        self.configure_network("create = true", delete);
    }

    fn configure_network(&self, network: &str, delete: bool) {
        let body = format!(
            "[project]\nname = \"coll\"\nregion = \"us-east-1\"\n\n[network]\n{network}\n\n[sources]\npath = \"music\"\ndelete = {delete}\n"
        );
        std::fs::write(self.dir.path().join("vibes.toml"), body).unwrap();
    }

    fn music(&self) -> PathBuf {
        self.dir.path().join("music")
    }

    fn vibes(&self, moto: &Moto, args: &[&str]) -> Output {
        cli::vibes(&self.dir.path().join("vibes.toml"), moto)
            .args(args)
            .output()
            .expect("run vibes")
    }
}

/// Relative path (with `/`) → hex SHA-256 of every file under `root`.
fn hashes(root: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.insert(rel, hex::encode(Sha256::digest(std::fs::read(&p).unwrap())));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn bucket_name(moto: &Moto) -> String {
    moto.aws_json(&["ssm", "get-parameter", "--name", "/coll/sources"])["Parameter"]["Value"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The bucket's content, downloaded with the `aws` CLI and hashed here.
fn bucket_hashes(moto: &Moto, bucket: &str) -> BTreeMap<String, String> {
    let into = tempfile::tempdir().unwrap();
    moto.aws_json(&[
        "s3",
        "sync",
        &format!("s3://{bucket}"),
        &into.path().display().to_string(),
        "--only-show-errors",
    ]);
    hashes(into.path())
}

#[test]
fn the_bucket_holds_exactly_the_tree_and_follows_its_changes() {
    let moto = Moto::start();
    let c = Collection::new();
    let local = hashes(&c.music());
    assert_eq!(local.len(), 3 + 3 * 2 * 40 + 1);

    let apply = c.vibes(&moto, &["apply", "--auto-approve"]);
    assert_eq!(code(&apply), 0, "{}", text(&apply));
    let bucket = bucket_name(&moto);

    // Every object, downloaded and hashed: the tree and vibes' manifest, nothing else.
    let mut remote = bucket_hashes(&moto, &bucket);
    let manifest_hash = remote
        .remove(MANIFEST_KEY)
        .expect("the sync writes its manifest");
    assert_eq!(remote, local, "the bucket holds exactly the tree");
    // The manifest records the same hashes, and the ETags S3 lists.
    let manifest = moto.aws_json(&["s3", "cp", &format!("s3://{bucket}/{MANIFEST_KEY}"), "-"]);
    assert_eq!(manifest_hash.len(), 64);
    let listing = moto.aws_json(&["s3api", "list-objects-v2", "--bucket", &bucket]);
    for o in listing["Contents"].as_array().unwrap() {
        let key = o["Key"].as_str().unwrap();
        if key == MANIFEST_KEY {
            continue;
        }
        let entry = &manifest["objects"][key];
        assert_eq!(entry["sha256"].as_str(), Some(local[key].as_str()), "{key}");
        assert_eq!(entry["etag"], o["ETag"], "{key}");
        assert_eq!(entry["size"], o["Size"], "{key}");
    }

    let again = c.vibes(&moto, &["plan", "--detailed-exitcode"]);
    assert_eq!(code(&again), 0, "converged: {}", text(&again));

    // One file changed: one upload.
    std::fs::write(
        c.music().join("neil_young/second/1/07-track.wav"),
        b"a different take",
    )
    .unwrap();
    let plan = c.vibes(&moto, &["plan", "--detailed-exitcode"]);
    assert_eq!(code(&plan), 2, "{}", text(&plan));
    assert!(text(&plan).contains("1 file to upload"), "{}", text(&plan));
    let apply = c.vibes(&moto, &["apply", "--auto-approve"]);
    assert_eq!(code(&apply), 0, "{}", text(&apply));
    let mut remote = bucket_hashes(&moto, &bucket);
    remote.remove(MANIFEST_KEY);
    assert_eq!(remote, hashes(&c.music()));
    let clean = c.vibes(&moto, &["plan", "--detailed-exitcode"]);
    assert_eq!(code(&clean), 0, "{}", text(&clean));

    // A file deleted locally is kept while [sources] delete = false, and the plan says why.
    let gone = "the_band/first/1/03-track.tags.vc";
    std::fs::remove_file(c.music().join(gone)).unwrap();
    let kept = c.vibes(&moto, &["plan"]);
    assert_eq!(code(&kept), 0, "{}", text(&kept));
    assert!(
        text(&kept).contains("1 object is in the bucket but not in"),
        "{}",
        text(&kept)
    );
    assert!(text(&kept).contains("delete = false"), "{}", text(&kept));
    assert!(
        text(&kept).contains(gone),
        "the kept object is named: {}",
        text(&kept)
    );
    let apply = c.vibes(&moto, &["apply", "--auto-approve"]);
    assert_eq!(code(&apply), 0, "{}", text(&apply));
    assert!(bucket_hashes(&moto, &bucket).contains_key(gone), "kept");

    // A key with a control character (put there by something else) is listed — S3's XML
    // cannot carry it raw, so vibes lists with encoding-type=url — and shown escaped, never
    // sent to the terminal as it is.
    let stray = "stray\u{1b}[2Jkey.txt";
    let put = moto
        .aws_cli()
        .args(["s3api", "put-object", "--bucket", &bucket, "--key", stray])
        .output()
        .unwrap();
    assert!(put.status.success(), "{}", text(&put));
    let kept = c.vibes(&moto, &["plan"]);
    assert_eq!(code(&kept), 0, "{}", text(&kept));
    assert!(
        text(&kept).contains("2 objects are in the bucket but not in"),
        "{}",
        text(&kept)
    );
    assert!(
        text(&kept).contains("stray\\u{1b}[2Jkey.txt"),
        "escaped: {}",
        text(&kept)
    );
    assert!(!text(&kept).contains('\u{1b}'), "{}", text(&kept));

    // With delete = true they go.
    c.configure(true);
    let plan = c.vibes(&moto, &["plan"]);
    assert!(text(&plan).contains("2 to delete"), "{}", text(&plan));
    let apply = c.vibes(&moto, &["apply", "--auto-approve"]);
    assert_eq!(code(&apply), 0, "{}", text(&apply));
    let mut remote = bucket_hashes(&moto, &bucket);
    assert!(
        remote.remove(MANIFEST_KEY).is_some(),
        "the manifest is never deleted as an extra object"
    );
    assert_eq!(remote, hashes(&c.music()));
    let clean = c.vibes(&moto, &["plan", "--detailed-exitcode"]);
    assert_eq!(code(&clean), 0, "{}", text(&clean));

    // An empty tree (an unmounted disk) empties nothing without --allow-mass-delete.
    let before = bucket_hashes(&moto, &bucket);
    for entry in std::fs::read_dir(c.music()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            std::fs::remove_dir_all(&path).unwrap();
        } else {
            std::fs::remove_file(&path).unwrap();
        }
    }
    let blocked = c.vibes(&moto, &["plan"]);
    assert!(text(&blocked).contains("is empty"), "{}", text(&blocked));
    assert!(
        text(&blocked).contains("--allow-mass-delete"),
        "{}",
        text(&blocked)
    );
    let _ = c.vibes(&moto, &["apply", "--auto-approve"]);
    assert_eq!(bucket_hashes(&moto, &bucket), before, "nothing deleted");
    let allowed = c.vibes(&moto, &["plan", "--allow-mass-delete"]);
    assert!(
        text(&allowed).contains("objects from the sources bucket."),
        "{}",
        text(&allowed)
    );
    let apply = c.vibes(&moto, &["apply", "--auto-approve", "--allow-mass-delete"]);
    assert_eq!(code(&apply), 0, "{}", text(&apply));
    let mut remote = bucket_hashes(&moto, &bucket);
    remote.remove(MANIFEST_KEY);
    assert!(remote.is_empty(), "{remote:?}");
}

/// Buckets in the account whose name says they are a stack's sources bucket.
fn sources_buckets(moto: &Moto) -> Vec<String> {
    moto.aws_json(&["s3api", "list-buckets"])["Buckets"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["Name"].as_str())
        .filter(|n| n.to_ascii_lowercase().contains("sourcesbucket"))
        .map(str::to_string)
        .collect()
}

#[test]
fn destroy_keeps_the_collection_unless_asked_and_the_next_apply_finds_it() {
    let moto = Moto::start();
    let c = Collection::new();
    // A network of the user's own: moto cannot delete a VPC stack (it deletes the VPC before
    // what is in it), and the network is not what this test is about.
    let vpc = moto.aws_json(&["ec2", "create-vpc", "--cidr-block", "10.9.0.0/16"])["Vpc"]["VpcId"]
        .as_str()
        .unwrap()
        .to_string();
    let subnet = moto.aws_json(&[
        "ec2",
        "create-subnet",
        "--vpc-id",
        &vpc,
        "--cidr-block",
        "10.9.1.0/24",
        "--availability-zone",
        "us-east-1a",
    ])["Subnet"]["SubnetId"]
        .as_str()
        .unwrap()
        .to_string();
    c.configure_network(
        &format!(
            "vpc_id = \"{vpc}\"\nsubnet_id = \"{subnet}\"\navailability_zone = \"us-east-1a\""
        ),
        false,
    );
    let apply = c.vibes(&moto, &["apply", "--auto-approve"]);
    assert_eq!(code(&apply), 0, "{}", text(&apply));
    let bucket = bucket_name(&moto);
    assert_eq!(sources_buckets(&moto), std::slice::from_ref(&bucket));

    // Without --include-data the plan says what it keeps, and keeps it.
    let destroy = c.vibes(&moto, &["destroy", "--auto-approve"]);
    assert_eq!(code(&destroy), 0, "{}", text(&destroy));
    assert!(
        text(&destroy).contains(&format!(
            "kept: the sources bucket {bucket} (244 objects, 8.1 MiB)"
        )),
        "{}",
        text(&destroy)
    );
    assert!(
        text(&destroy).contains("only with --include-data"),
        "{}",
        text(&destroy)
    );
    let stacks = moto.aws_json(&["cloudformation", "describe-stacks"]);
    assert!(stacks["Stacks"].as_array().unwrap().is_empty(), "{stacks}");
    let mut remote = bucket_hashes(&moto, &bucket);
    remote.remove(MANIFEST_KEY);
    assert_eq!(remote, hashes(&c.music()), "the collection is intact");
    assert_eq!(bucket_name(&moto), bucket, "its parameter kept");

    // The next apply hands the kept bucket to the new main stack: no second bucket, nothing
    // uploaded again.
    let plan = c.vibes(&moto, &["plan"]);
    assert!(
        // Attributes are aligned: the name, spaces, `=`, the value.
        text(&plan).lines().any(|l| {
            let l = l.trim();
            l.starts_with("parameter SourcesBucketName ") && l.ends_with(&format!("= {bucket}"))
        }),
        "{}",
        text(&plan)
    );
    assert!(!text(&plan).contains("to upload"), "{}", text(&plan));
    let apply = c.vibes(&moto, &["apply", "--auto-approve"]);
    assert_eq!(code(&apply), 0, "{}", text(&apply));
    assert_eq!(bucket_name(&moto), bucket);
    assert_eq!(
        sources_buckets(&moto),
        std::slice::from_ref(&bucket),
        "no second bucket"
    );
    let clean = c.vibes(&moto, &["plan", "--detailed-exitcode"]);
    assert_eq!(code(&clean), 0, "{}", text(&clean));

    // With --include-data the bucket (every version) and its parameter go, after the stack.
    std::fs::write(c.music().join("ccr/tags.vc"), "ARTIST=CCR\n").unwrap();
    let apply = c.vibes(&moto, &["apply", "--auto-approve"]);
    assert_eq!(code(&apply), 0, "{}", text(&apply));
    let destroy = c.vibes(&moto, &["destroy", "--auto-approve", "--include-data"]);
    assert_eq!(code(&destroy), 0, "{}", text(&destroy));
    assert!(
        text(&destroy).contains("is emptied and deleted"),
        "{}",
        text(&destroy)
    );
    assert!(sources_buckets(&moto).is_empty(), "{}", text(&destroy));
    let gone = moto
        .aws_cli()
        .args(["ssm", "get-parameter", "--name", "/coll/sources"])
        .output()
        .unwrap();
    assert!(!gone.status.success(), "the parameter is deleted");
    let again = c.vibes(&moto, &["destroy", "--auto-approve"]);
    assert!(
        text(&again).contains("Destroy complete"),
        "{}",
        text(&again)
    );
}
