//! Pascal VOC: `Annotations/*.xml` and `JPEGImages/`, optionally `ImageSets/Main/<split>.txt`
//! (`val`, else `test`, else every annotation). An image's class is that of its largest object;
//! its ground-truth boxes are all boxes of that class (`difficult` ones included). VOC's 1-based
//! pixel coordinates become 0-based.

use super::{Dataset, Sample, clamp_box, read_text};
use crate::error::{LanternError, Result};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

struct Object {
    name: String,
    bbox: [f64; 4],
}

struct Parsed {
    filename: String,
    width: u32,
    height: u32,
    objects: Vec<Object>,
}

fn child<'a>(node: roxmltree::Node<'a, 'a>, name: &str) -> Option<roxmltree::Node<'a, 'a>> {
    node.children().find(|c| c.has_tag_name(name))
}

fn parse(path: &Path) -> Result<Parsed> {
    let text = read_text(path)?;
    let bad = |what: String| LanternError::BadArgument(format!("{}: {what}", path.display()));
    let doc = roxmltree::Document::parse(&text).map_err(|e| bad(format!("not valid XML ({e})")))?;
    let root = doc.root_element();
    // The text of `node`'s child `name` and the line it is on.
    let field = |node: roxmltree::Node, name: &str| -> Result<(String, u32)> {
        let n = child(node, name).ok_or_else(|| {
            let pos = doc.text_pos_at(node.range().start);
            bad(format!("line {}: <{}> has no <{name}>", pos.row, node.tag_name().name()))
        })?;
        Ok((n.text().unwrap_or("").trim().to_string(), doc.text_pos_at(n.range().start).row))
    };
    let number = |node: roxmltree::Node, name: &str| -> Result<f64> {
        let (v, row) = field(node, name)?;
        v.parse::<f64>().map_err(|_| bad(format!("line {row}: <{name}> is '{v}', not a number")))
    };
    let size = child(root, "size").ok_or_else(|| bad("no <size>".into()))?;
    let mut objects = Vec::new();
    for obj in root.children().filter(|c| c.has_tag_name("object")) {
        let b = child(obj, "bndbox")
            .ok_or_else(|| bad(format!("line {}: <object> has no <bndbox>", doc.text_pos_at(obj.range().start).row)))?;
        objects.push(Object {
            name: field(obj, "name")?.0,
            bbox: [number(b, "xmin")?, number(b, "ymin")?, number(b, "xmax")?, number(b, "ymax")?],
        });
    }
    Ok(Parsed {
        filename: field(root, "filename")?.0,
        width: number(size, "width")? as u32,
        height: number(size, "height")? as u32,
        objects,
    })
}

fn annotation_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let main = dir.join("ImageSets").join("Main");
    for split in ["val", "test"] {
        let list = main.join(format!("{split}.txt"));
        if list.is_file() {
            return Ok(read_text(&list)?
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(|id| dir.join("Annotations").join(format!("{id}.xml")))
                .collect());
        }
    }
    let ann = dir.join("Annotations");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&ann)
        .map_err(|e| LanternError::io(&ann, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    files.sort();
    Ok(files)
}

pub fn read(dir: &Path) -> Result<Dataset> {
    let parsed: Vec<(PathBuf, Parsed)> =
        annotation_files(dir)?.into_iter().map(|p| parse(&p).map(|a| (p, a))).collect::<Result<_>>()?;
    let classes: Vec<String> = parsed
        .iter()
        .flat_map(|(_, a)| a.objects.iter().map(|o| o.name.clone()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut samples = Vec::new();
    for (path, a) in parsed {
        let Some(largest) = a.objects.iter().max_by(|x, y| area(x).total_cmp(&area(y))) else {
            continue;
        };
        let class = classes.iter().position(|c| *c == largest.name);
        let boxes = a
            .objects
            .iter()
            .filter(|o| o.name == largest.name)
            .filter_map(|o| {
                clamp_box(o.bbox[0] - 1.0, o.bbox[1] - 1.0, o.bbox[2] - 1.0, o.bbox[3] - 1.0, a.width, a.height)
            })
            .collect();
        let id = path.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
        samples.push(Sample { id, image: dir.join("JPEGImages").join(&a.filename), class, boxes, mask: None });
    }
    Ok(Dataset { classes, samples })
}

fn area(o: &Object) -> f64 {
    (o.bbox[2] - o.bbox[0]).max(0.0) * (o.bbox[3] - o.bbox[1]).max(0.0)
}
