//! Names as the user knows them. PyTorch's exporters record each node's module scope: the
//! TorchScript exporter in the node name (`/layer4/layer4.1/relu_1/Relu`), the dynamo exporter in
//! the node's `pkg.torch.onnx.name_scopes` metadata. A scope is turned into a dotted module path
//! (`layer4.1.relu_1`), and a module path names that module's output: the last map computed
//! inside it (`layer4` is the output of the last block of `layer4`).

use std::collections::HashMap;

/// The module path of a TorchScript-exported node name, without the operator part:
/// `/layer4/layer4.1/relu_1/Relu` → `layer4.1.relu_1`, `/blocks/blocks.1/norm1/LayerNormalization`
/// → `blocks.1.norm1`. A segment that repeats its parent's path (`layer4.1` under `layer4`) is
/// already qualified. `None` for names without scopes (`Conv_12`, `node_conv2d`).
pub fn scope_path(node_name: &str) -> Option<String> {
    let trimmed = node_name.strip_prefix('/')?;
    let mut segments: Vec<&str> = trimmed.split('/').filter(|s| !s.is_empty()).collect();
    segments.pop()?; // the operator's own name
    Some(join_scopes(&segments)).filter(|p| !p.is_empty())
}

/// Join scope segments into a dotted path (see [`scope_path`]). A segment names a module
/// relative to the container it is indexed in, so it may repeat the end of the path so far:
/// `layers.1.blocks` then `blocks.1` is `layers.1.blocks.1`, `layer4` then `layer4.0` is
/// `layer4.0`; otherwise it is a child (`layer4.0` then `conv1` is `layer4.0.conv1`).
pub fn join_scopes(segments: &[&str]) -> String {
    let mut path: Vec<String> = Vec::new();
    for seg in segments.iter().filter(|s| !s.is_empty()) {
        let overlap = (0..path.len()).find(|&k| seg.starts_with(&format!("{}.", path[k..].join("."))));
        if let Some(k) = overlap {
            path.truncate(k);
        }
        path.extend(seg.split('.').map(str::to_string));
    }
    path.join(".")
}

/// The module path the dynamo exporter records: its `name_scopes` metadata is a Python-style
/// list of qualified module names, outermost first, sometimes ending in the ATen operator's name
/// (`['', 'layer1', 'layer1.0', 'layer1.0.bn1', '_native_batch_norm_legit_no_training_1']`); the
/// node's module is the last name that extends the one before it.
pub fn dynamo_scope(metadata: &str) -> Option<String> {
    let inner = metadata.trim().strip_prefix('[')?.strip_suffix(']')?;
    let mut path = String::new();
    for name in inner.split(',').map(|s| s.trim().trim_matches(|c| c == '\'' || c == '"')).filter(|s| !s.is_empty()) {
        if (path.is_empty() && !name.starts_with('_')) || name.starts_with(&format!("{path}.")) {
            path = name.to_string();
        }
    }
    Some(path).filter(|p| !p.is_empty())
}

/// Every module path a value's scope belongs to, outermost first: `layer4.1.relu_1` →
/// `layer4`, `layer4.1`, `layer4.1.relu_1`.
pub fn ancestors(path: &str) -> Vec<String> {
    let parts: Vec<&str> = path.split('.').collect();
    (1..=parts.len()).map(|k| parts[..k].join(".")).collect()
}

/// For values in graph order with their scopes, the module each is the output of: the
/// shortest module path whose last value it is (`None` when it is no module's last value).
pub fn module_outputs(scopes: &[Option<String>]) -> Vec<Option<String>> {
    let mut last: HashMap<String, usize> = HashMap::new();
    for (i, scope) in scopes.iter().enumerate() {
        if let Some(s) = scope {
            for a in ancestors(s) {
                last.insert(a, i);
            }
        }
    }
    scopes
        .iter()
        .enumerate()
        .map(|(i, scope)| scope.as_ref().and_then(|s| ancestors(s).into_iter().find(|a| last.get(a) == Some(&i))))
        .collect()
}

/// The last value (index) inside module `module` (its path or any path below it).
pub fn resolve_module(scopes: &[Option<String>], module: &str) -> Option<usize> {
    let below = format!("{module}.");
    scopes.iter().rposition(|s| s.as_ref().is_some_and(|s| s == module || s.starts_with(&below)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torchscript_scopes_become_module_paths() {
        assert_eq!(scope_path("/layer4/layer4.2/relu_2/Relu").as_deref(), Some("layer4.2.relu_2"));
        assert_eq!(scope_path("/blocks/blocks.1/norm1/LayerNormalization").as_deref(), Some("blocks.1.norm1"));
        assert_eq!(
            scope_path("/encoder/layers/encoder_layer_11/ln_1/LayerNormalization").as_deref(),
            Some("encoder.layers.encoder_layer_11.ln_1")
        );
        assert_eq!(
            scope_path("/layers/layers.1/blocks/blocks.1/norm1/LayerNormalization").as_deref(),
            Some("layers.1.blocks.1.norm1")
        );
        assert_eq!(scope_path("/blocks/blocks.5/blocks.5.0/bn1/act/HardSwish").as_deref(), Some("blocks.5.0.bn1.act"));
        assert_eq!(scope_path("/Flatten"), None);
        assert_eq!(scope_path("Conv_12"), None);
    }

    #[test]
    fn dynamo_scopes_take_the_innermost_name() {
        assert_eq!(dynamo_scope("['', 'layer4', 'layer4.1', 'layer4.1.relu']").as_deref(), Some("layer4.1.relu"));
        assert_eq!(
            dynamo_scope("['', 'layer1', 'layer1.0', 'layer1.0.bn1', '_native_batch_norm_legit_no_training_1']")
                .as_deref(),
            Some("layer1.0.bn1")
        );
        assert_eq!(dynamo_scope("['']"), None);
        assert_eq!(dynamo_scope("not a list"), None);
    }

    #[test]
    fn a_module_names_its_last_value() {
        let scopes: Vec<Option<String>> =
            ["layer4.0.conv1", "layer4.0.relu", "layer4.1.conv1", "layer4.1.relu_1", "fc"]
                .iter()
                .map(|s| Some(s.to_string()))
                .collect();
        assert_eq!(resolve_module(&scopes, "layer4"), Some(3));
        assert_eq!(resolve_module(&scopes, "layer4.0"), Some(1));
        assert_eq!(resolve_module(&scopes, "layer4.1.relu_1"), Some(3));
        assert_eq!(resolve_module(&scopes, "layer"), None);
        let outputs = module_outputs(&scopes);
        assert_eq!(outputs[3].as_deref(), Some("layer4"));
        assert_eq!(outputs[1].as_deref(), Some("layer4.0"));
        assert_eq!(outputs[0].as_deref(), Some("layer4.0.conv1"));
    }
}
