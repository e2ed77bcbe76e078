//! Enums whose variants have names users type: one table per enum gives each variant its name
//! (and accepted aliases); [`named_enum!`] derives `ALL`, `as_str`, `Display` and a
//! case-insensitive `FromStr` whose error lists the choices.

/// Declare an enum with a name per variant:
///
/// ```text
/// named_enum! {
///     /// Doc.
///     #[derive(Debug, Clone, Copy, PartialEq, Eq)]
///     pub enum Fruit ("fruit") {
///         Apple = "apple" | "malus",
///         Pear = "pear",
///     }
/// }
/// ```
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident ($what:literal) {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal $(| $alias:literal)*,)+
        }
    ) => {
        $(#[$meta])*
        $vis enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The name users type and files store.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
                let key = s.trim().to_ascii_lowercase();
                match key.as_str() {
                    $($text $(| $alias)* => Ok($name::$variant),)+
                    _ => Err(format!("unknown {} '{s}' (choose {})", $what, $crate::names::one_of($name::ALL))),
                }
            }
        }
    };
}

pub(crate) use named_enum;

/// The names of `choices` as a sentence's list: `a`, `a or b`, `a, b or c`.
pub fn one_of<T: std::fmt::Display>(choices: &[T]) -> String {
    let names: Vec<String> = choices.iter().map(T::to_string).collect();
    match names.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    named_enum! {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        enum Fruit ("fruit") {
            Apple = "apple" | "malus",
            Pear = "pear",
        }
    }

    #[test]
    fn names_aliases_case_and_the_error_that_lists_the_choices() {
        assert_eq!("APPLE".parse::<Fruit>(), Ok(Fruit::Apple));
        assert_eq!(" malus ".parse::<Fruit>(), Ok(Fruit::Apple));
        assert_eq!(Fruit::Pear.to_string(), "pear");
        assert_eq!(Fruit::ALL, &[Fruit::Apple, Fruit::Pear]);
        assert_eq!("plum".parse::<Fruit>(), Err("unknown fruit 'plum' (choose apple or pear)".to_string()));
    }
}
