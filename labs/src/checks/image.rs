//! Image checks: `GET /images/{name}/json`.

use super::{Context, Evidence, Mismatch};
use crate::ledger::Kind;
use crate::scenario::check::ImageCheck;

pub fn evaluate(check: &ImageCheck, cx: &Context) -> Result<Evidence, Mismatch> {
    // The lab's given images (`httpd:2.4`) are nobody's work; everything else must be the run's.
    let run = cx.run.filter(|run| !run.given_image(&check.image));
    let found = cx.api.image(&check.image)?;
    let image = match (found, check.exists) {
        (None, false) => {
            return match run {
                Some(run) => run.existed(Kind::Image, &check.image),
                None => Ok(None),
            };
        }
        (None, true) => return Err(Mismatch::new(format!("image {}", check.image), "no such image")),
        (Some(image), false) => {
            return Err(Mismatch::new(
                "no such image",
                format!("image {} ({} bytes)", short(&image.id), image.size),
            ));
        }
        (Some(image), true) => image,
    };
    let evidence = match run {
        Some(run) => run.owns(
            Kind::Image,
            &image.id,
            &check.image,
            &image.config.labels.clone().unwrap_or_default(),
        )?,
        None => None,
    };
    let size_of = |other: &str| -> Result<i64, Mismatch> {
        match cx.api.image(other)? {
            Some(image) => Ok(image.size),
            None => Err(Mismatch::new(
                format!("image {other} to compare with"),
                "no such image",
            )),
        }
    };
    if let Some(other) = &check.larger_than {
        let other_size = size_of(other)?;
        if image.size <= other_size {
            return Err(Mismatch::new(
                format!("more than {other_size} bytes ({other})"),
                format!("{} bytes", image.size),
            ));
        }
    }
    if let Some(other) = &check.smaller_than {
        let other_size = size_of(other)?;
        if image.size >= other_size {
            return Err(Mismatch::new(
                format!("fewer than {other_size} bytes ({other})"),
                format!("{} bytes", image.size),
            ));
        }
    }
    if let Some(layers) = check.layers {
        let found = image.root_fs.layers.len();
        if found != layers {
            return Err(Mismatch::new(
                format!("{layers} layers"),
                format!("{found} layers"),
            ));
        }
    }
    if let Some(base) = &check.extends {
        extends(&image.root_fs.layers, base, check.new_layers.unwrap_or(1), cx)?;
    }
    let labels = image.config.labels.clone().unwrap_or_default();
    for (key, value) in &check.labels {
        if labels.get(key) != Some(value) {
            return Err(Mismatch::new(
                format!("label {key}={value}"),
                labels
                    .get(key)
                    .map(|v| format!("{key}={v}"))
                    .unwrap_or_else(|| format!("no label {key}")),
            ));
        }
    }
    if let Some(triggers) = &check.onbuild {
        let found = image.config.on_build.clone().unwrap_or_default();
        if &found != triggers {
            return Err(Mismatch::new(onbuild_words(triggers), onbuild_words(&found)));
        }
    }
    if let Some(other) = &check.same_as {
        match cx.api.image(other)? {
            Some(same) if same.id == image.id => {}
            Some(different) => {
                return Err(Mismatch::new(
                    format!("image {} ({other})", short(&different.id)),
                    format!("image {}", short(&image.id)),
                ));
            }
            None => {
                return Err(Mismatch::new(
                    format!("image {other} to compare with"),
                    "no such image",
                ));
            }
        }
    }
    Ok(evidence)
}

/// `layers` are `base`'s (the same diff ids, in order) and `added` more.
fn extends(layers: &[String], base: &str, added: usize, cx: &Context) -> Result<(), Mismatch> {
    let Some(base_image) = cx.api.image(base)? else {
        return Err(Mismatch::new(
            format!("image {base} to compare with"),
            "no such image",
        ));
    };
    let base_layers = &base_image.root_fs.layers;
    if !layers.starts_with(base_layers) {
        return Err(Mismatch::new(
            format!("{base}'s {} layers at the bottom", base_layers.len()),
            "other layers",
        ));
    }
    let found = layers.len() - base_layers.len();
    if found != added {
        return Err(Mismatch::new(
            format!("{added} layer(s) on top of {base}"),
            format!("{found}"),
        ));
    }
    Ok(())
}

/// `ONBUILD COPY . /app, ONBUILD RUN make`, or `no ONBUILD triggers`.
fn onbuild_words(triggers: &[String]) -> String {
    if triggers.is_empty() {
        return "no ONBUILD triggers".to_owned();
    }
    triggers
        .iter()
        .map(|t| format!("ONBUILD {t}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `sha256:4f2f6d484a19…` → `4f2f6d484a19`.
fn short(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triggers_read_as_the_dockerfile_wrote_them() {
        assert_eq!(onbuild_words(&[]), "no ONBUILD triggers");
        assert_eq!(
            onbuild_words(&["COPY . /app".to_owned(), "RUN make".to_owned()]),
            "ONBUILD COPY . /app, ONBUILD RUN make"
        );
    }
}
