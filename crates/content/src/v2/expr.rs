//! Expression code: postfix over predicate results, in Kleene's three-valued
//! logic. `PRED i` pushes predicate i's result, `AND n` / `OR n` replace the
//! top n results by their conjunction / disjunction, `NOT` negates the top.
//! The stack is two u64 bit-stacks (value, unknown), so its depth limit
//! ([`MAX_STACK`]) is 64 and it needs no memory.

use super::format::MAX_STACK;

/// A three-valued result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Truth {
    True,
    False,
    Unknown,
}

impl Truth {
    pub const fn from_bool(b: bool) -> Self {
        if b { Truth::True } else { Truth::False }
    }

    pub const fn and(self, other: Truth) -> Truth {
        match (self, other) {
            (Truth::False, _) | (_, Truth::False) => Truth::False,
            (Truth::True, Truth::True) => Truth::True,
            _ => Truth::Unknown,
        }
    }

    pub const fn or(self, other: Truth) -> Truth {
        match (self, other) {
            (Truth::True, _) | (_, Truth::True) => Truth::True,
            (Truth::False, Truth::False) => Truth::False,
            _ => Truth::Unknown,
        }
    }

    #[allow(clippy::should_implement_trait)]
    pub const fn not(self) -> Truth {
        match self {
            Truth::True => Truth::False,
            Truth::False => Truth::True,
            Truth::Unknown => Truth::Unknown,
        }
    }
}

/// The expression stack: bit 0 is the top.
pub(crate) struct Stack {
    value: u64,
    unknown: u64,
    depth: u32,
}

impl Stack {
    pub(crate) const fn new() -> Self {
        Stack { value: 0, unknown: 0, depth: 0 }
    }

    /// `false` on overflow.
    pub(crate) fn push(&mut self, t: Truth) -> bool {
        if self.depth as usize >= MAX_STACK {
            return false;
        }
        self.value = (self.value << 1) | u64::from(t == Truth::True);
        self.unknown = (self.unknown << 1) | u64::from(t == Truth::Unknown);
        self.depth = self.depth.saturating_add(1);
        true
    }

    /// Pops `n` results: (any false, any unknown, any true); `None` on underflow.
    fn pop(&mut self, n: u16) -> Option<(bool, bool, bool)> {
        let n32 = u32::from(n);
        if n32 > self.depth {
            return None;
        }
        let mask = 1u64.checked_shl(n32).map_or(u64::MAX, |b| b.wrapping_sub(1));
        let (v, u) = (self.value & mask, self.unknown & mask);
        let any_false = !v & !u & mask != 0;
        self.value = self.value.checked_shr(n32).unwrap_or(0);
        self.unknown = self.unknown.checked_shr(n32).unwrap_or(0);
        self.depth = self.depth.saturating_sub(n32);
        Some((any_false, u != 0, v != 0))
    }

    pub(crate) fn and(&mut self, n: u16) -> bool {
        match self.pop(n) {
            Some((true, _, _)) => self.push(Truth::False),
            Some((false, true, _)) => self.push(Truth::Unknown),
            Some(_) => self.push(Truth::True),
            None => false,
        }
    }

    pub(crate) fn or(&mut self, n: u16) -> bool {
        match self.pop(n) {
            Some((_, _, true)) => self.push(Truth::True),
            Some((_, true, false)) => self.push(Truth::Unknown),
            Some(_) => self.push(Truth::False),
            None => false,
        }
    }

    pub(crate) fn not(&mut self) -> bool {
        match self.pop(1) {
            Some((true, _, _)) => self.push(Truth::True),
            Some((false, true, _)) => self.push(Truth::Unknown),
            Some(_) => self.push(Truth::False),
            None => false,
        }
    }

    /// The one result a well-formed expression leaves.
    pub(crate) fn result(&self) -> Option<Truth> {
        if self.depth != 1 {
            return None;
        }
        Some(match (self.value & 1, self.unknown & 1) {
            (1, _) => Truth::True,
            (_, 1) => Truth::Unknown,
            _ => Truth::False,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Truth::{False as F, True as T, Unknown as U};

    #[test]
    fn kleene_tables_hold_for_and_or_not() {
        let all = [T, F, U];
        for a in all {
            for b in all {
                let mut s = Stack::new();
                assert!(s.push(a) && s.push(b) && s.and(2));
                assert_eq!(s.result(), Some(a.and(b)));
                let mut s = Stack::new();
                assert!(s.push(a) && s.push(b) && s.or(2));
                assert_eq!(s.result(), Some(a.or(b)));
            }
        }
        assert_eq!(U.and(F), F);
        assert_eq!(U.and(T), U);
        assert_eq!(U.or(T), T);
        assert_eq!(U.or(F), U);
        assert_eq!(U.not(), U);
    }

    #[test]
    fn empty_and_is_true_and_empty_or_is_false() {
        let mut s = Stack::new();
        assert!(s.and(0));
        assert_eq!(s.result(), Some(T));
        let mut s = Stack::new();
        assert!(s.or(0));
        assert_eq!(s.result(), Some(F));
    }

    #[test]
    fn the_stack_refuses_underflow_and_a_65th_result() {
        let mut s = Stack::new();
        assert!(!s.not());
        assert!(!s.and(1));
        for _ in 0..64 {
            assert!(s.push(U));
        }
        assert!(!s.push(T));
        assert!(s.and(64));
        assert_eq!(s.result(), Some(U));
    }
}
