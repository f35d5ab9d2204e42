//! `docker rm --link /web/db`: a legacy link is known by its name, the linking container's name
//! then the alias (`/web/db`); removing it takes the link out of the linking container's
//! `HostConfig.Links`, as dockerd's `rmLink` does. The linked container stays.

use super::{Container, ContainerError, Containers};
use std::sync::Arc;

impl Containers {
    /// `DELETE /containers/{name}?link=1`.
    pub async fn remove_link(&self, name: &str) -> Result<(), ContainerError> {
        let full = format!("/{}", name.trim_start_matches('/'));
        let Some((parent, _alias)) = full.rsplit_once('/').filter(|(parent, _)| !parent.is_empty()) else {
            // A container's own name: Docker finds the container, then refuses (with a 500).
            self.get(name)?;
            return Err(ContainerError::Internal(
                "Conflict, cannot remove the default link name of the container".into(),
            ));
        };
        let linking = self.linking_container(&full)?;
        let _lifecycle = linking.lifecycle.lock().await;
        linking.update_durably(&self.inner.tmp, |record| {
            if let Some(links) = &mut record.host_config.links {
                links.retain(|link| link_name(link) != Some(full.as_str()));
            }
            // Docker rebuilds the list from what is left: none left is `null`.
            if record.host_config.links.as_ref().is_some_and(Vec::is_empty) {
                record.host_config.links = None;
            }
        })?;
        crate::explain!(container = %linking.id, "removed the legacy link {full} from container {parent}");
        Ok(())
    }

    /// The container a link name points to (`web/db` → the container `web` calls `db`): Docker
    /// resolves link names like container names.
    pub fn linked_by(&self, name: &str) -> Result<Arc<Container>, ContainerError> {
        let full = format!("/{}", name.trim_start_matches('/'));
        let linking = self.linking_container(&full)?;
        let record = linking.record();
        let target = record
            .host_config
            .links
            .iter()
            .flatten()
            .find(|link| link_name(link) == Some(full.as_str()))
            .and_then(|link| link.split_once(':'))
            .map(|(target, _)| target.to_owned())
            .ok_or_else(|| not_found(&full))?;
        self.get(&target).map_err(|_| not_found(&full))
    }

    /// The container whose links include `full` (`/web/db`); Docker's 404 names the link.
    fn linking_container(&self, full: &str) -> Result<Arc<Container>, ContainerError> {
        let (parent, _) = full.rsplit_once('/').ok_or_else(|| not_found(full))?;
        let linking = self.get(parent).map_err(|_| not_found(full))?;
        let has_link = linking
            .record()
            .host_config
            .links
            .iter()
            .flatten()
            .any(|link| link_name(link) == Some(full));
        if has_link {
            Ok(linking)
        } else {
            Err(not_found(full))
        }
    }
}

/// The name of a stored link (`/db:/web/db` → `/web/db`).
fn link_name(link: &str) -> Option<&str> {
    link.split_once(':').map(|(_, name)| name)
}

fn not_found(full: &str) -> ContainerError {
    ContainerError::NotFound(full.trim_start_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_link_is_named_by_its_second_half() {
        assert_eq!(link_name("/db:/web/db"), Some("/web/db"));
        assert_eq!(link_name("garbage"), None);
    }
}
