// The directories of the workspace that make up the platform vibes deploys, relative to the
// workspace root: every file under them is carried in the binary. The one list of them, read by
// this crate's build script, by its library, and by the root build script that packs vibes' own
// source (whose worker image builds vibes, and so this crate, from that archive).

/// `cfn/`: stack templates; `packer/`: image recipes and their files; `platform/`: the worker's
/// and the server's scripts.
pub const PLATFORM_DIRS: [&str; 3] = ["cfn", "packer", "platform"];
