//! `docker system df`: the images with how many containers use each and what they share, the
//! containers with their writable layers, the volumes with their size and users — one answer
//! gathered from the three services, as dockerd's `SystemDiskUsage` gathers it.

use berth_api::types::{DiskUsage, VolumeUsageData};

use crate::container::{ContainerError, ListOptions};
use crate::engine::Engine;
use crate::image::{ImageError, ListFilters};
use crate::volume::VolumeError;

/// Why the usage could not be gathered.
#[derive(Debug, thiserror::Error)]
pub enum DiskUsageError {
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    Container(#[from] ContainerError),
    #[error(transparent)]
    Volume(#[from] VolumeError),
}

impl Engine {
    /// `GET /system/df`. It walks every volume and writable layer: call it off the async threads.
    pub fn disk_usage(&self) -> Result<DiskUsage, DiskUsageError> {
        let users = self.image_users();
        let images = self.images.list(
            &ListFilters {
                disk_usage: true,
                ..ListFilters::default()
            },
            &users,
        )?;
        let containers = self.containers.list(&ListOptions {
            all: true,
            size: true,
            ..ListOptions::default()
        })?;
        let mut volumes = self.volumes.list()?;
        for volume in &mut volumes {
            volume.usage_data = Some(VolumeUsageData {
                size: self.volumes.size(&volume.name) as i64,
                ref_count: self.containers.volume_users(&volume.name).len() as i64,
            });
        }
        Ok(DiskUsage {
            layers_size: self.images.layers_size()? as i64,
            images,
            containers,
            volumes,
            // berthd has no builder cache (yet): nothing to report, as Docker reports none.
            build_cache: None,
            builder_size: 0,
        })
    }
}
