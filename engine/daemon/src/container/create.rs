//! `docker create`: a record, a container layer and /etc files; nothing runs yet.

use std::sync::Arc;

use berth_api::types::{ContainerCreateRequest, IdResponse};

use super::config::{fill_host_config_defaults, merge_image_config};
use super::record::{ContainerRecord, State};
use super::{Container, ContainerError, Containers, etc_files, mounts, name, new_id, validate};
use crate::image::time;

impl Containers {
    /// `POST /containers/create?name=…`.
    pub async fn create(
        &self,
        name: Option<&str>,
        request: ContainerCreateRequest,
    ) -> Result<IdResponse, ContainerError> {
        let name = name
            .filter(|n| !n.is_empty())
            .map(name::validate)
            .transpose()
            .map_err(|e| ContainerError::BadRequest(e.to_string()))?;
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.create_blocking(name, request)).await?
    }

    fn create_blocking(
        &self,
        name: Option<String>,
        request: ContainerCreateRequest,
    ) -> Result<IdResponse, ContainerError> {
        let ContainerCreateRequest {
            mut config,
            mut host_config,
            networking_config,
        } = request;
        // As dockerd: the request is checked before its image is looked at.
        validate::validate(&config, &host_config)?;
        if config.image.is_empty() {
            return Err(ContainerError::BadRequest("image is required".into()));
        }
        let images = &self.inner.images;
        // Until the container is listed, no removal may decide its image has no users.
        let _using_image = images.use_guard();
        let image_id = images.resolve(&config.image)?;
        let image_config = images.config(&image_id)?;
        merge_image_config(&mut config, &image_config.container_config());
        // As dockerd, once the image is found: the log driver and its options.
        validate::validate_log_config(&host_config.log_config.r#type, &host_config.log_config.config)?;
        let mut command: Vec<String> = config.entrypoint.clone().map(|e| e.0).unwrap_or_default();
        command.extend(config.cmd.clone().map(|c| c.0).unwrap_or_default());
        if command.is_empty() {
            return Err(ContainerError::BadRequest("No command specified".into()));
        }
        // dockerd reads --security-opt here, and gives its mistakes no kind: a 500.
        super::spec::SecurityOptions::parse(&host_config)
            .map_err(|e| ContainerError::Internal(e.to_string()))?;
        fill_host_config_defaults(&mut host_config);
        // Capabilities are checked now, so a bad --cap-add fails create, not start.
        super::spec::capabilities(&host_config).map_err(|e| ContainerError::BadRequest(e.to_string()))?;

        let volumes_from = host_config
            .volumes_from
            .iter()
            .flatten()
            .map(|spec| {
                let (name, rw) = mounts::parse_volumes_from(spec)?;
                // A missing container is the request's fault: 400, as dockerd answers (a 404 on
                // create would make the docker CLI think the image is missing and pull it).
                let container = self.get(name).map_err(|e| match e {
                    ContainerError::NotFound(_) => ContainerError::BadRequest(e.to_string()),
                    e => e,
                })?;
                Ok((container.record().mounts, rw))
            })
            .collect::<Result<Vec<_>, ContainerError>>()?;
        let config_volumes: Vec<String> = config.volumes.iter().flat_map(|v| v.keys().cloned()).collect();
        let planned_networks = self.plan_networks(&config, &host_config, networking_config.as_ref())?;
        let planned_mounts = mounts::plan(&config_volumes, &host_config, &volumes_from, &self.inner.volumes)?;
        let id = new_id();
        if config.hostname.is_empty() {
            config.hostname = super::record::short(&id).to_owned();
        }
        let record = ContainerRecord {
            id: id.clone(),
            name: String::new(),
            created: time::now_rfc3339(),
            path: command[0].clone(),
            args: command[1..].to_vec(),
            config,
            host_config,
            image: image_id.clone(),
            top_layer: images.top_layer(&image_id)?,
            state: State::new(),
            restart_count: 0,
            has_been_started: false,
            manually_stopped: false,
            mounts: planned_mounts,
            network_settings: berth_api::types::NetworkSettings {
                networks: planned_networks,
                ..Default::default()
            },
            exec_ids: Vec::new(),
        };
        let paths = self.paths(&id);
        let made = (|| {
            for dir in [paths.upper(), paths.work(), paths.rootfs()] {
                std::fs::create_dir_all(dir)?;
            }
            // The exec dir holds the explain log from the start (the shim and runtime add to it).
            std::fs::create_dir_all(&paths.exec)?;
            etc_files::write_all(&paths, &record.config.hostname, &record.config.domainname)
        })();
        if let Err(e) = made {
            let _ = crate::tree::remove_all(&paths.data);
            let _ = crate::tree::remove_all(&paths.exec);
            self.remove_anonymous_volumes(&record.mounts);
            return Err(e.into());
        }
        let container = Container::new(record, paths);
        // The name is taken and the container listed in one step, so two creates can't share a name.
        let result = self.claim_name(&container, name);
        if let Err(e) = result {
            let _ = crate::tree::remove_all(&container.paths.data);
            let _ = crate::tree::remove_all(&container.paths.exec);
            self.remove_anonymous_volumes(&container.record().mounts);
            return Err(e);
        }
        // Links as Docker stores them (`/db:/web/db`); the raw form works as well if this fails.
        let _ = self.normalize_links(&container);
        crate::explain!(container = %id, "created container {} with a new writable layer", super::record::short(&id));
        self.event(&container, "create", &[]);
        Ok(IdResponse {
            id,
            warnings: Vec::new(),
        })
    }

    /// Give the container its name (generated when none was asked), save it, and list it.
    fn claim_name(
        &self,
        container: &Arc<Container>,
        requested: Option<String>,
    ) -> Result<(), ContainerError> {
        let mut table = self.table();
        let taken = |name: &str| {
            table
                .values()
                .find(|c| c.record().name == name)
                .map(|c| c.id.clone())
        };
        let name = match requested {
            Some(name) => {
                if let Some(owner) = taken(&name) {
                    return Err(ContainerError::Conflict(format!(
                        "Conflict. The container name \"{name}\" is already in use by container \"{owner}\". You have to remove (or rename) that container to be able to reuse that name."
                    )));
                }
                name
            }
            None => (0..)
                .map(|retry| format!("/{}", name::generate(retry)))
                .find(|candidate| taken(candidate).is_none())
                .expect("an endless supply of names"),
        };
        container.update_durably(&self.inner.tmp, |record| record.name = name)?;
        table.insert(container.id.clone(), container.clone());
        Ok(())
    }

    /// `POST /containers/{id}/rename?name=…`.
    pub async fn rename(&self, name: &str, new_name: &str) -> Result<(), ContainerError> {
        let container = self.get(name)?;
        let new_name = name::validate(new_name).map_err(|e| ContainerError::BadRequest(e.to_string()))?;
        if container.record().name == new_name {
            return Err(ContainerError::BadRequest(
                "Renaming a container with the same name as its current name".into(),
            ));
        }
        let table = self.table();
        if let Some(owner) = table
            .values()
            .find(|c| c.record().name == new_name && c.id != container.id)
        {
            return Err(ContainerError::Conflict(format!(
                "Conflict. The container name \"{new_name}\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.",
                owner.id
            )));
        }
        let old = container.update_durably(&self.inner.tmp, |record| {
            std::mem::replace(&mut record.name, new_name)
        })?;
        drop(table);
        self.event(&container, "rename", &[("oldName", old)]);
        Ok(())
    }
}
