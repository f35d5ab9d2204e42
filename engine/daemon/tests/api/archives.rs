//! `POST /images/load` of archives no tool would write: an OCI index that names itself.

use crate::support::{TestDaemon, assert_alive, berth};

/// A tar of `files` (name, content), as `docker save` or skopeo writes an archive.
fn tar(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, content) in files {
        let mut header = [0u8; 512];
        header[..name.len()].copy_from_slice(name.as_bytes());
        header[100..107].copy_from_slice(b"0000644");
        header[108..115].copy_from_slice(b"0000000");
        header[116..123].copy_from_slice(b"0000000");
        header[124..135].copy_from_slice(format!("{:011o}", content.len()).as_bytes());
        header[136..147].copy_from_slice(b"00000000000");
        header[156] = b'0';
        header[257..263].copy_from_slice(b"ustar\0");
        header[263..265].copy_from_slice(b"00");
        header[148..156].copy_from_slice(b"        ");
        let sum: u32 = header.iter().map(|&b| u32::from(b)).sum();
        header[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(content);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

#[test]
fn an_index_that_names_itself_is_refused_at_once() {
    let mut daemon = TestDaemon::start();
    // The blob claims a digest; its content is an index pointing at that same digest.
    let claimed = "a".repeat(64);
    let index = |digest: &str| {
        serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [{
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "digest": format!("sha256:{digest}"),
                "size": 100,
            }],
        })
        .to_string()
        .into_bytes()
    };
    let archive = tar(&[
        ("oci-layout", br#"{"imageLayoutVersion": "1.0.0"}"#.to_vec()),
        ("index.json", index(&claimed)),
        (&format!("blobs/sha256/{claimed}"), index(&claimed)),
    ]);
    let loaded = berth(&daemon, "POST", "/images/load?quiet=1", &archive);
    let said = loaded.text();
    assert!(
        said.contains("content has digest") && said.contains(&format!("not sha256:{claimed}")),
        "{} {said}",
        loaded.status
    );
    let images = berth(&daemon, "GET", "/images/json", b"");
    assert_eq!(images.json(), serde_json::json!([]), "nothing was stored");
    assert_alive(&mut daemon);
}
