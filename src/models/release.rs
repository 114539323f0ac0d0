//! The release types of SPEC §3 and how sentences name them: shared by compositions, their
//! tracks (a single holds one) and the forms, none of which need ask another.

/// The release types, by their stored value.
pub const TYPES: [(i16, &str); 3] = [(1, "Single"), (2, "EP"), (3, "Album")];

pub fn type_name(value: i16) -> &'static str {
    TYPES
        .iter()
        .find(|(v, _)| *v == value)
        .map_or("Release", |(_, name)| name)
}

/// "A single", "An EP", "An album": the name with its article, to start a sentence.
pub fn a_release(name: &str) -> String {
    let article = if name.starts_with(['A', 'E', 'I', 'O', 'U']) {
        "An"
    } else {
        "A"
    };
    format!("{article} {}", name.to_lowercase().replace("ep", "EP"))
}
