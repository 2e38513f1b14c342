//! Substring search for `contains`: Two-Way (Crochemore–Perrin), which makes
//! at most two unit compares per text position whatever the text, behind a
//! skip loop on two rare units of the pattern that tests 32 positions at a
//! time without a branch (the compiler vectorises it).
//!
//! Every step is counted: [`Needle::new`] at most `6 · pattern` (the pattern's
//! rarity scan, two maximal-suffix computations of at most `2 · pattern` each,
//! the period check), [`find`] at most `2 · value` positions tested by the
//! skip loop (each position at most once alone and at most once in a block)
//! plus `2 · value` compares (Two-Way's bound): [`contains_cost`] in all.
//!
//! [`contains_cost`]: crate::matching::contains_cost

/// Positions tested per skip-loop block.
const BLOCK: usize = 32;

/// `fold` without a branch, so that the skip loop vectorises.
#[inline(always)]
fn fold_lanes(unit: u16) -> u16 {
    unit | (u16::from(unit.wrapping_sub(0x41) < 26) << 5)
}

/// A text to search: UTF-16 units in a slice, or UTF-16LE bytes.
pub(crate) trait Hay: Copy {
    fn len(self) -> usize;
    fn at(self, index: usize) -> Option<u16>;
    /// The first position in `from..starts` whose units at the two rare
    /// offsets equal the pattern's; `tested` counts the positions looked at.
    fn candidate<const FOLD: bool>(
        self,
        from: usize,
        starts: usize,
        rare: &Rare,
        skip: &mut Skip,
        tested: &mut usize,
    ) -> Option<usize>;
}

/// Two offsets of the pattern and their (folded) units.
pub(crate) struct Rare {
    offsets: [usize; 2],
    units: [u16; 2],
}

impl Rare {
    #[inline(always)]
    fn hit<H: Hay, const FOLD: bool>(&self, hay: H, at: usize) -> bool {
        let unit = |k: usize| {
            let u = hay.at(at.wrapping_add(k));
            if FOLD { u.map(fold_lanes) } else { u }
        };
        let [a, b] = self.offsets;
        let [ua, ub] = self.units;
        unit(a) == Some(ua) && unit(b) == Some(ub)
    }
}

/// The skip loop's last block: the candidates among `base..base + BLOCK`,
/// one bit each. Blocks never overlap, so each position is tested once.
#[derive(Default)]
pub(crate) struct Skip {
    base: usize,
    mask: u32,
    len: usize,
}

impl Hay for &[u16] {
    #[inline(always)]
    fn len(self) -> usize {
        <[u16]>::len(self)
    }

    #[inline(always)]
    fn at(self, index: usize) -> Option<u16> {
        self.get(index).copied()
    }

    #[inline]
    fn candidate<const FOLD: bool>(
        self,
        from: usize,
        starts: usize,
        rare: &Rare,
        skip: &mut Skip,
        tested: &mut usize,
    ) -> Option<usize> {
        let [oa, ob] = rare.offsets;
        let [ua, ub] = rare.units;
        let (heads, tails) = (self.get(oa..).unwrap_or(&[]), self.get(ob..).unwrap_or(&[]));
        let mut from = from;
        loop {
            if let Some(rel) = from.checked_sub(skip.base).filter(|&rel| rel < skip.len) {
                let left = skip.mask.checked_shr(u32::try_from(rel).unwrap_or(u32::MAX)).unwrap_or(0);
                if left != 0 {
                    *tested = tested.wrapping_add(1);
                    return Some(from.wrapping_add(left.trailing_zeros() as usize));
                }
                from = skip.base.wrapping_add(skip.len);
            }
            if from >= starts {
                return None;
            }
            let end = from.saturating_add(BLOCK).min(starts);
            let mask = match (block(heads, from, end), block(tails, from, end)) {
                (Some(h), Some(t)) => block_mask::<FOLD>(h, t, ua, ub),
                _ => {
                    (from..end).rev().fold(0u32, |m, at| (m << 1) | u32::from(rare.hit::<_, FOLD>(self, at)))
                }
            };
            *tested = tested.wrapping_add(end.wrapping_sub(from));
            *skip = Skip { base: from, mask, len: end.wrapping_sub(from) };
        }
    }
}

#[inline(always)]
fn block(units: &[u16], from: usize, end: usize) -> Option<&[u16; BLOCK]> {
    units.get(from..end).and_then(|b| <&[u16; BLOCK]>::try_from(b).ok())
}

/// UTF-16LE bytes of even length (the [`ringfence_wire::Text`] byte view).
#[derive(Clone, Copy)]
pub(crate) struct LeUnits<'a>(pub(crate) &'a [u8]);

impl Hay for LeUnits<'_> {
    #[inline(always)]
    fn len(self) -> usize {
        self.0.len() / 2
    }

    #[inline(always)]
    fn at(self, index: usize) -> Option<u16> {
        let at = index.checked_mul(2)?;
        match self.0.get(at..at.checked_add(2)?)? {
            &[lo, hi] => Some(u16::from_le_bytes([lo, hi])),
            _ => None,
        }
    }

    fn candidate<const FOLD: bool>(
        self,
        from: usize,
        starts: usize,
        rare: &Rare,
        _skip: &mut Skip,
        tested: &mut usize,
    ) -> Option<usize> {
        for at in from..starts {
            *tested = tested.wrapping_add(1);
            if rare.hit::<_, FOLD>(self, at) {
                return Some(at);
            }
        }
        None
    }
}

/// The positions `k` whose `heads[k]` and `tails[k]` equal the rare units,
/// one bit each: compares the compiler vectorises.
#[inline(always)]
fn block_mask<const FOLD: bool>(heads: &[u16; BLOCK], tails: &[u16; BLOCK], a: u16, b: u16) -> u32 {
    let mut mask = 0u32;
    for (k, (&x, &y)) in heads.iter().zip(tails).enumerate() {
        let (x, y) = if FOLD { (fold_lanes(x), fold_lanes(y)) } else { (x, y) };
        mask |= u32::from((x == a) & (y == b)) << (k & 31);
    }
    mask
}

/// How rarely a (folded) unit occurs in paths and command lines: higher is
/// rarer. A guess that only steers the skip loop, never the result.
fn rarity(unit: u16) -> u8 {
    match unit {
        0x61..=0x7A => match u8::try_from(unit).unwrap_or(0) {
            b'e' | b't' | b'a' | b'o' | b'i' | b'n' | b's' | b'r' | b'h' | b'l' | b'c' | b'd' | b'm' => 1,
            _ => 2,
        },
        0x41..=0x5A => 2,
        0x30..=0x39 => 2,
        0x20 | 0x22 | 0x2D | 0x2E | 0x2F | 0x3A | 0x5C => 1,
        0..=0x7F => 3,
        _ => 4,
    }
}

/// A pattern (already folded when the search folds case) with its critical
/// factorisation.
pub(crate) struct Needle<'p> {
    p: &'p [u16],
    /// The critical position: the right part `p[crit..]` is compared first.
    crit: usize,
    /// The shift after the left part fails.
    period: usize,
    /// Whether `p` is not periodic enough to remember a matched prefix.
    long_period: bool,
    rare: Rare,
}

impl<'p> Needle<'p> {
    /// Prepares a pattern of at least one unit; `work` counts the compares.
    pub(crate) fn new(p: &'p [u16], work: &mut usize) -> Option<Self> {
        let m = p.len();
        let rare = pick_rare(p, work)?;
        let (crit_less, period_less) = maximal_suffix(p, false, work);
        let (crit_greater, period_greater) = maximal_suffix(p, true, work);
        let (crit, period) =
            if crit_less > crit_greater { (crit_less, period_less) } else { (crit_greater, period_greater) };
        let prefix = p.get(..crit);
        let repeat = period.checked_add(crit).and_then(|end| p.get(period..end));
        *work = work.wrapping_add(crit);
        let short = matches!((prefix, repeat), (Some(a), Some(b)) if a == b);
        if short {
            Some(Needle { p, crit, period, long_period: false, rare })
        } else {
            let period = crit.max(m.wrapping_sub(crit)).wrapping_add(1);
            Some(Needle { p, crit, period, long_period: true, rare })
        }
    }
}

/// The rarest unit's offset and the rarest other unit's offset (the last
/// offset, or the first, when the pattern has one distinct unit).
fn pick_rare(p: &[u16], work: &mut usize) -> Option<Rare> {
    *work = work.wrapping_add(p.len());
    let rarest = |skip: Option<u16>| {
        let mut best: Option<(usize, u8)> = None;
        for (k, &u) in p.iter().enumerate() {
            if Some(u) == skip {
                continue;
            }
            let r = rarity(u);
            if best.is_none_or(|(_, b)| r > b) {
                best = Some((k, r));
            }
        }
        best.map(|(k, _)| k)
    };
    let a = rarest(None)?;
    let ua = *p.get(a)?;
    let last = p.len().wrapping_sub(1);
    let b = rarest(Some(ua)).unwrap_or(if a == last { 0 } else { last });
    let ub = *p.get(b)?;
    Some(Rare { offsets: [a, b], units: [ua, ub] })
}

/// The maximal suffix of `p` for the unit order (reversed when
/// `order_greater`): its start and period. At most `2 · p.len()` compares:
/// `left + right + offset` rises at every step and stays under `2 · p.len()`.
fn maximal_suffix(p: &[u16], order_greater: bool, work: &mut usize) -> (usize, usize) {
    let (mut left, mut right, mut offset, mut period) = (0usize, 1usize, 0usize, 1usize);
    while let Some(&a) = p.get(right.wrapping_add(offset)) {
        let Some(&b) = p.get(left.wrapping_add(offset)) else { break };
        *work = work.wrapping_add(1);
        if (a < b && !order_greater) || (a > b && order_greater) {
            right = right.wrapping_add(offset).wrapping_add(1);
            offset = 0;
            period = right.wrapping_sub(left);
        } else if a == b {
            if offset.wrapping_add(1) == period {
                right = right.wrapping_add(offset).wrapping_add(1);
                offset = 0;
            } else {
                offset = offset.wrapping_add(1);
            }
        } else {
            left = right;
            right = right.wrapping_add(1);
            offset = 0;
            period = 1;
        }
    }
    (left, period)
}

/// Whether `hay` contains the needle, folding the text's ASCII letters when
/// `FOLD`. `work` counts positions tested and units compared.
pub(crate) fn find<H: Hay, const FOLD: bool>(hay: H, needle: &Needle<'_>, work: &mut usize) -> bool {
    let p = needle.p;
    let m = p.len();
    let Some(starts) = hay.len().checked_sub(m).map(|s| s.wrapping_add(1)) else { return false };
    let unit = |at: usize| {
        let u = hay.at(at);
        if FOLD { u.map(fold_lanes) } else { u }
    };
    let (crit, long) = (needle.crit, needle.long_period);
    let mut pos = 0usize;
    let mut memory = 0usize;
    let mut skip = Skip::default();
    'search: loop {
        if memory == 0 {
            match hay.candidate::<FOLD>(pos, starts, &needle.rare, &mut skip, work) {
                Some(at) => pos = at,
                None => return false,
            }
        }
        if pos >= starts {
            return false;
        }
        // The right part, left to right.
        let mut i = crit.max(memory);
        while let Some(&want) = p.get(i) {
            *work = work.wrapping_add(1);
            if unit(pos.wrapping_add(i)) != Some(want) {
                pos = pos.wrapping_add(i.wrapping_sub(crit)).wrapping_add(1);
                memory = 0;
                continue 'search;
            }
            i = i.wrapping_add(1);
        }
        // The left part, right to left, down to what is remembered.
        let low = if long { 0 } else { memory };
        let mut i = crit;
        while i > low {
            i = i.wrapping_sub(1);
            *work = work.wrapping_add(1);
            if unit(pos.wrapping_add(i)) != p.get(i).copied() {
                pos = pos.wrapping_add(needle.period);
                memory = if long { 0 } else { m.wrapping_sub(needle.period) };
                continue 'search;
            }
        }
        return true;
    }
}
