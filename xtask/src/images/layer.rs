//! A layer as a tree of files, written out as an uncompressed layer tar with its diff id.
//!
//! Entries are written sorted by path, so parents always come before their children. Files that
//! share one inode (busybox and its applets) are a hard-link group: as in the tars Docker writes,
//! the first name in sorted order carries the data and the others link to it.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::rc::Rc;

use super::digest::Digest;
use super::tarball::DeterministicTar;

/// Mode of the directories a file's path needs and nobody declared.
const IMPLIED_DIR_MODE: u32 = 0o755;

/// One entry of the tree.
#[derive(Clone, Debug)]
enum Node {
    Dir {
        mode: u32,
    },
    File {
        mode: u32,
        contents: Rc<[u8]>,
        link_group: Option<usize>,
    },
}

/// The files of one layer, by path relative to the root (`bin/busybox`, no leading slash).
#[derive(Default, Debug)]
pub struct LayerTree {
    nodes: BTreeMap<String, Node>,
    link_groups: usize,
}

/// A finished layer: its tar and the digest of that tar (the diff id).
pub struct Layer {
    pub tar: Vec<u8>,
    pub diff_id: Digest,
}

impl LayerTree {
    pub fn new() -> Self {
        Self::default()
    }

    /// A directory with this mode (replacing the implied 0755 if a file put it there first).
    pub fn dir(&mut self, path: &str, mode: u32) -> &mut Self {
        self.add_parents(path);
        self.nodes.insert(path.to_string(), Node::Dir { mode });
        self
    }

    /// A regular file; missing parent directories are added with mode 0755.
    pub fn file(&mut self, path: &str, mode: u32, contents: impl Into<Vec<u8>>) -> &mut Self {
        self.add_parents(path);
        let contents: Rc<[u8]> = contents.into().into();
        self.nodes.insert(
            path.to_string(),
            Node::File {
                mode,
                contents,
                link_group: None,
            },
        );
        self
    }

    /// One file under several names: hard links to a single inode.
    pub fn hard_linked_file<S: AsRef<str>>(
        &mut self,
        paths: impl IntoIterator<Item = S>,
        mode: u32,
        contents: impl Into<Vec<u8>>,
    ) -> &mut Self {
        let contents: Rc<[u8]> = contents.into().into();
        let group = self.link_groups;
        self.link_groups += 1;
        for path in paths {
            let path = path.as_ref();
            self.add_parents(path);
            let node = Node::File {
                mode,
                contents: Rc::clone(&contents),
                link_group: Some(group),
            };
            self.nodes.insert(path.to_string(), node);
        }
        self
    }

    /// The layer tar, every entry stamped with `mtime`.
    pub fn build(&self, mtime: u64) -> io::Result<Layer> {
        let mut tar = DeterministicTar::new(mtime);
        let mut first_of_group: HashMap<usize, &str> = HashMap::new();
        for (path, node) in &self.nodes {
            match node {
                Node::Dir { mode } => tar.dir(path, *mode)?,
                Node::File {
                    mode,
                    contents,
                    link_group,
                } => {
                    let earlier_name = link_group.and_then(|group| first_of_group.get(&group).copied());
                    if let Some(first) = earlier_name {
                        tar.hard_link(path, *mode, first)?;
                    } else {
                        tar.file(path, *mode, contents)?;
                        if let Some(group) = link_group {
                            first_of_group.insert(*group, path);
                        }
                    }
                }
            }
        }
        let tar = tar.finish()?;
        let diff_id = Digest::of(&tar);
        Ok(Layer { tar, diff_id })
    }

    fn add_parents(&mut self, path: &str) {
        let mut end = 0;
        while let Some(slash) = path[end..].find('/') {
            end += slash;
            self.nodes.entry(path[..end].to_string()).or_insert(Node::Dir {
                mode: IMPLIED_DIR_MODE,
            });
            end += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(layer: &Layer) -> Vec<String> {
        let mut archive = tar::Archive::new(layer.tar.as_slice());
        archive
            .entries()
            .unwrap()
            .map(|entry| {
                let entry = entry.unwrap();
                let header = entry.header();
                let path = entry.path().unwrap().to_string_lossy().into_owned();
                let mode = header.mode().unwrap();
                match header.entry_type() {
                    tar::EntryType::Link => {
                        format!(
                            "{path} {mode:o} -> {}",
                            entry.link_name().unwrap().unwrap().display()
                        )
                    }
                    _ => format!("{path} {mode:o} {}", header.size().unwrap()),
                }
            })
            .collect()
    }

    #[test]
    fn parents_are_implied_and_entries_sorted() {
        let mut tree = LayerTree::new();
        tree.file("usr/local/bin/run", 0o755, "#!/bin/sh\n")
            .dir("tmp", 0o1777)
            .dir("usr", 0o755);
        let layer = tree.build(0).unwrap();
        assert_eq!(
            listing(&layer),
            [
                "tmp/ 1777 0",
                "usr/ 755 0",
                "usr/local/ 755 0",
                "usr/local/bin/ 755 0",
                "usr/local/bin/run 755 10"
            ]
        );
    }

    #[test]
    fn hard_link_group_stores_data_once_under_the_first_name() {
        let mut tree = LayerTree::new();
        tree.hard_linked_file(["bin/busybox", "bin/[", "bin/sh"], 0o755, vec![7u8; 1000]);
        let layer = tree.build(0).unwrap();
        assert_eq!(
            listing(&layer),
            [
                "bin/ 755 0",
                "bin/[ 755 1000",
                "bin/busybox 755 -> bin/[",
                "bin/sh 755 -> bin/["
            ]
        );
    }

    #[test]
    fn diff_id_is_the_digest_of_the_tar() {
        let mut tree = LayerTree::new();
        tree.file("hello", 0o755, "hi\n");
        let layer = tree.build(0).unwrap();
        assert_eq!(layer.diff_id, Digest::of(&layer.tar));
        let later = tree.build(1).unwrap();
        assert_ne!(layer.diff_id, later.diff_id);
    }
}
