//! Building messages without `core::fmt`. Formatting machinery and its panic
//! paths are several kilobytes of wasm, while every message here is plain
//! text and whole numbers, so `text!` joins pieces into a `String` instead.

use crate::prelude::*;

/// A piece of a message: text, a character or a whole number.
pub trait Piece {
    fn push_to(&self, out: &mut String);
}

impl Piece for str {
    fn push_to(&self, out: &mut String) {
        out.push_str(self);
    }
}

impl Piece for String {
    fn push_to(&self, out: &mut String) {
        out.push_str(self);
    }
}

impl Piece for char {
    fn push_to(&self, out: &mut String) {
        out.push(*self);
    }
}

impl<T: Piece + ?Sized> Piece for &T {
    fn push_to(&self, out: &mut String) {
        (**self).push_to(out);
    }
}

macro_rules! unsigned_piece {
    ($($number:ty),*) => {$(
        impl Piece for $number {
            fn push_to(&self, out: &mut String) {
                push_digits(u64::from(*self), out);
            }
        }
    )*};
}

unsigned_piece!(u8, u16, u32, u64);

impl Piece for usize {
    fn push_to(&self, out: &mut String) {
        push_digits(*self as u64, out);
    }
}

impl Piece for i64 {
    fn push_to(&self, out: &mut String) {
        if *self < 0 {
            out.push('-');
        }
        push_digits(self.unsigned_abs(), out);
    }
}

/// Writes `number` in decimal.
fn push_digits(mut number: u64, out: &mut String) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (number % 10) as u8;
        number /= 10;
        if number == 0 {
            break;
        }
    }
    for &digit in &digits[start..] {
        out.push(char::from(digit));
    }
}

/// Returns the byte index of the first `needle` in `text`. A plain scan
/// replaces core's two-way string search, which costs about 2 KB of wasm. Its
/// worst case, a 1 MiB body of "a" and a 100-byte token of "a…ab", took 3 ms natively.
pub fn find_text(text: &str, needle: &str) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    // A match of valid UTF-8 in valid UTF-8 starts and ends on character boundaries.
    text.as_bytes().windows(needle.len()).position(|window| window == needle.as_bytes())
}

/// Joins its arguments, each a `Piece`, into a new `String`.
macro_rules! text {
    ($($piece:expr),+ $(,)?) => {{
        let mut out = $crate::prelude::String::new();
        $( $crate::text::Piece::push_to(&$piece, &mut out); )+
        out
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_text_and_numbers() {
        let name = String::from("serials");
        assert_eq!(text!("The ", name, ".", 0usize, " field ", 'x', &"y"), "The serials.0 field xy");
    }

    #[test]
    fn finds_text_like_str_find() {
        for (text, needle) in [("abc", "bc"), ("abc", "abcd"), ("", ""), ("x", ""), ("ééx", "éx"), ("aaab", "aab"), ("ab", "c")] {
            assert_eq!(find_text(text, needle), text.find(needle), "{needle:?} in {text:?}");
        }
    }

    #[test]
    fn numbers_at_range_ends() {
        assert_eq!(text!(0u8, " ", u16::MAX, " ", u32::MAX), "0 65535 4294967295");
        assert_eq!(text!(u64::MAX), "18446744073709551615");
        assert_eq!(text!(i64::MIN, " ", -1i64, " ", i64::MAX), "-9223372036854775808 -1 9223372036854775807");
    }
}
