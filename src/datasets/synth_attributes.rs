//! The procedural benchmark's attributes as an attribute model sees them: the 13 values of
//! colour (6), texture (4) and size (3), which [`super::synth`] draws independently of the class
//! (the shape). An image has exactly one value of each group; two images *share* a value when
//! both have it, so what a pair has in common is known exactly.
//!
//! Values are named `group=value` (`colour=red`), the names an attribute model's labels file
//! holds.

use super::synth::{Attributes, COLOURS, SIZES, TEXTURES};

/// The attribute groups, in the order of their values.
pub const GROUPS: [&str; 3] = ["colour", "texture", "size"];

/// Number of attribute values (6 colours, 4 textures, 3 sizes).
pub const COUNT: usize = COLOURS.len() + TEXTURES.len() + SIZES.len();

/// The values of group `g`, in index order.
fn values(g: usize) -> Vec<&'static str> {
    match g {
        0 => COLOURS.iter().map(|c| c.0).collect(),
        1 => TEXTURES.to_vec(),
        _ => SIZES.iter().map(|s| s.0).collect(),
    }
}

/// Index of group `g`'s first value.
fn offset(g: usize) -> usize {
    (0..g).map(|h| values(h).len()).sum()
}

/// Every value's name, `group=value`, in index order.
pub fn names() -> Vec<String> {
    (0..GROUPS.len()).flat_map(|g| values(g).into_iter().map(move |v| format!("{}={v}", GROUPS[g]))).collect()
}

/// The group of value `index`.
pub fn group(index: usize) -> usize {
    (0..GROUPS.len()).rev().find(|&g| index >= offset(g)).unwrap_or(0)
}

/// The value indices of each group's range: `ranges()[g]` is `offset..offset + len`.
pub fn ranges() -> [std::ops::Range<usize>; 3] {
    [0, 1, 2].map(|g| offset(g)..offset(g) + values(g).len())
}

/// The image's three values (colour, texture, size) as indices.
pub fn indices(a: &Attributes) -> [usize; 3] {
    [a.colour, offset(1) + a.texture, offset(2) + a.size]
}

/// The values two images share.
pub fn shared(a: &Attributes, b: &Attributes) -> Vec<usize> {
    let theirs = indices(b);
    indices(a).into_iter().filter(|i| theirs.contains(i)).collect()
}

/// How many of shape, colour, texture and size two images have in common (0 to 4).
pub fn agreement(a: &Attributes, b: &Attributes) -> usize {
    usize::from(a.shape == b.shape) + shared(a, b).len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_groups_and_indices_agree() {
        let n = names();
        assert_eq!(n.len(), COUNT);
        assert_eq!((n[0].as_str(), n[6].as_str(), n[12].as_str()), ("colour=red", "texture=solid", "size=large"));
        for (i, name) in n.iter().enumerate() {
            assert!(name.starts_with(GROUPS[group(i)]), "{name}");
            assert!(ranges()[group(i)].contains(&i));
        }
        let a = Attributes { shape: 0, colour: 2, texture: 3, size: 1 };
        assert_eq!(indices(&a), [2, 9, 11]);
        assert_eq!(n[9], "texture=checks");
        let b = Attributes { shape: 0, colour: 2, texture: 0, size: 1 };
        assert_eq!(shared(&a, &b), vec![2, 11]);
        assert_eq!(agreement(&a, &b), 3);
        assert_eq!(agreement(&a, &a), 4);
    }
}
