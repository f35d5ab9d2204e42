//! A container's files as tars, for `docker cp` and `docker export`: paths resolved in the
//! container's scope and through its mounts (`view`), the stat Docker's clients read (`stat`),
//! a path written as a tar (`pack`) and a tar extracted into a directory (`unpack`).
//!
//! What this module does not do: find containers, mount their root file systems or decide
//! what is writable; `container::archive` does, then hands it a [`FsView`].

mod bounded;
mod pack;
mod stat;
mod unpack;
mod view;

pub use bounded::BoundedHeaders;
pub use pack::{PackSpec, pack};
pub use stat::{PathStat, path_stat};
pub use unpack::{ExtractError, ExtractOptions, extract, read_error};
pub use view::{ContainerPath, FsView, MountSpot, clean, display};
