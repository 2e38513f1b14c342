//! Guest memory and kernel structure layout. Every structure the driver sees
//! is written field by field at `offset_of!` offsets of the windows-sys type the
//! driver compiles against, with the value's type checked against the field's,
//! so a layout mistake is a compile error rather than a silent misread.

use unicorn_engine::Unicorn;

/// Guest address map. Everything sits below the 47-bit canonical limit; the
/// driver is relocated like a real kernel loader would.
pub mod map {
    pub const PAGE: u64 = 0x1000;
    /// Where the image is mapped (its base relocations are applied).
    pub const IMAGE: u64 = 0x0000_0001_4000_0000;
    /// One 16-byte stub per modelled API.
    pub const STUBS: u64 = 0x0000_0000_7000_0000;
    pub const STUB_SIZE: u64 = 16;
    pub const STUBS_LEN: u64 = 0x10000;
    /// Kernel data the driver imports (object types, SeExports, SIDs).
    pub const DATA: u64 = 0x0000_0000_7100_0000;
    pub const DATA_LEN: u64 = 0x10000;
    /// The KPCR that GS points at.
    pub const KPCR: u64 = 0x0000_0000_7200_0000;
    pub const KPCR_LEN: u64 = 0x2000;
    /// The kernel stack: KERNEL_STACK_SIZE on x64, unmapped pages on both sides.
    pub const STACK: u64 = 0x0000_0000_7300_0000;
    pub const STACK_LEN: u64 = 0x6000;
    /// Emulated threads' kernel stacks ([`crate::threads`]): thread `i`'s `STACK_LEN` bytes
    /// start at `THREAD_STACKS + i * THREAD_STACK_STRIDE`, unmapped pages between them.
    pub const THREAD_STACKS: u64 = 0x0000_0000_7600_0000;
    pub const THREAD_STACK_STRIDE: u64 = 0x10000;
    /// The return address every call into the driver returns to.
    pub const RETURN: u64 = 0x0000_0000_7400_0000;
    /// Pool: every allocation gets its own pages, ending at a guard page.
    pub const POOL: u64 = 0x0000_0010_0000_0000;
}

/// A plain value that sits in a kernel structure field.
pub trait Scalar: Copy {
    const SIZE: usize;
    fn to_u64(self) -> u64;
    fn from_u64(v: u64) -> Self;
}

macro_rules! scalar_int {
    ($($t:ty),*) => {$(
        impl Scalar for $t {
            const SIZE: usize = core::mem::size_of::<$t>();
            #[allow(clippy::cast_sign_loss, clippy::cast_possible_truncation, trivial_numeric_casts)]
            fn to_u64(self) -> u64 { self as u64 }
            #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap, trivial_numeric_casts)]
            fn from_u64(v: u64) -> Self { v as $t }
        }
    )*};
}
scalar_int!(u8, u16, u32, u64, i8, i16, i32, i64, usize, isize);

impl Scalar for bool {
    const SIZE: usize = 1;
    fn to_u64(self) -> u64 {
        u64::from(self)
    }
    fn from_u64(v: u64) -> Self {
        v & 0xFF != 0
    }
}

/// Pointer fields carry guest addresses; the host never dereferences them.
impl<T> Scalar for *mut T {
    const SIZE: usize = 8;
    fn to_u64(self) -> u64 {
        self as usize as u64
    }
    #[allow(clippy::cast_possible_truncation)]
    fn from_u64(v: u64) -> Self {
        v as usize as *mut T
    }
}

impl<T> Scalar for *const T {
    const SIZE: usize = 8;
    fn to_u64(self) -> u64 {
        self as usize as u64
    }
    #[allow(clippy::cast_possible_truncation)]
    fn from_u64(v: u64) -> Self {
        v as usize as *const T
    }
}

/// Type check only: ties a value's type to a field's type at compile time.
pub fn same_type<F>(_field: *const F, _value: &F) {}

/// Marks raw pointer types, for fields written with guest addresses.
pub trait Pointer: Scalar {}
impl<T> Pointer for *mut T {}
impl<T> Pointer for *const T {}

/// Type check only: the field is a raw pointer of some type.
pub fn is_pointer<P: Pointer>(_field: *const P) {}

/// Writes a scalar of the field's size.
pub fn write_scalar<G: Guest + ?Sized, F: Scalar>(mem: &mut G, addr: u64, value: F) -> bool {
    mem.write_uint(addr, value.to_u64(), F::SIZE)
}

/// Reads the field picked by `_pick` (never called) at `addr`.
pub fn read_picked<G: Guest + ?Sized, T, F: Scalar>(mem: &G, addr: u64, _pick: impl Fn(&T) -> *const F) -> F {
    F::from_u64(mem.read_uint(addr, F::SIZE))
}

/// Writes `v` into field `f` of the `$ty` at guest address `$addr`.
#[macro_export]
macro_rules! wr {
    ($mem:expr, $addr:expr, $ty:ty, $($f:ident).+ = $v:expr) => {{
        let v = $v;
        #[allow(unused_unsafe)]
        // SAFETY: never called; `&raw const` names a place without reading any union field.
        let _check = |s: &$ty| unsafe { $crate::layout::same_type(&raw const s.$($f).+, &v) };
        let at = ($addr).wrapping_add(core::mem::offset_of!($ty, $($f).+) as u64);
        $crate::layout::write_scalar(&mut *$mem, at, v);
    }};
}

/// Writes a guest address into pointer field `f` of the `$ty` at `$addr`.
#[macro_export]
macro_rules! wr_ptr {
    ($mem:expr, $addr:expr, $ty:ty, $($f:ident).+ = $v:expr) => {{
        let v: u64 = $v;
        #[allow(unused_unsafe)]
        // SAFETY: never called; `&raw const` names a place without reading any union field.
        let _check = |s: &$ty| unsafe { $crate::layout::is_pointer(&raw const s.$($f).+) };
        let at = ($addr).wrapping_add(core::mem::offset_of!($ty, $($f).+) as u64);
        $crate::layout::Guest::write_uint(&mut *$mem, at, v, 8);
    }};
}

/// Writes a guest address into an 8-byte field that is not a raw pointer in
/// windows-sys (a code pointer such as `DRIVER_INITIALIZE`, or a `PETHREAD`).
#[macro_export]
macro_rules! wr_raw {
    ($mem:expr, $addr:expr, $ty:ty, $($f:ident).+ = $v:expr) => {{
        let v: u64 = $v;
        let at = ($addr).wrapping_add(core::mem::offset_of!($ty, $($f).+) as u64);
        $crate::layout::Guest::write_uint(&mut *$mem, at, v, 8);
    }};
}

/// Reads the 8-byte code-pointer field `f` (a `DRIVER_DISPATCH`, `DRIVER_UNLOAD`, ...).
#[macro_export]
macro_rules! rd_code {
    ($mem:expr, $addr:expr, $ty:ty, $($f:ident).+) => {{
        let at = ($addr).wrapping_add(core::mem::offset_of!($ty, $($f).+) as u64);
        $crate::layout::Guest::read_u64(&*$mem, at)
    }};
}

/// Reads field `f` of the `$ty` at guest address `$addr`, typed as the field.
#[macro_export]
macro_rules! rd {
    ($mem:expr, $addr:expr, $ty:ty, $($f:ident).+) => {{
        let at = ($addr).wrapping_add(core::mem::offset_of!($ty, $($f).+) as u64);
        #[allow(unused_unsafe)]
        // SAFETY: never called; `&raw const` names a place without reading any union field.
        let value = $crate::layout::read_picked(&*$mem, at, |s: &$ty| unsafe { &raw const s.$($f).+ });
        value
    }};
}

/// Reads pointer field `f` of the `$ty` at `$addr` as a guest address.
#[macro_export]
macro_rules! rd_ptr {
    ($mem:expr, $addr:expr, $ty:ty, $($f:ident).+) => {{
        let at = ($addr).wrapping_add(core::mem::offset_of!($ty, $($f).+) as u64);
        #[allow(unused_unsafe)]
        // SAFETY: never called; `&raw const` names a place without reading any union field.
        let value = $crate::layout::read_picked(&*$mem, at, |s: &$ty| unsafe { &raw const s.$($f).+ });
        $crate::layout::Scalar::to_u64(value)
    }};
}

/// Guest memory access. Reads of unmapped memory yield zeros and writes are
/// dropped: the model validates addresses it is handed before using them.
pub trait Guest {
    fn read_bytes(&self, addr: u64, len: usize) -> Option<Vec<u8>>;
    fn write_bytes(&mut self, addr: u64, bytes: &[u8]) -> bool;

    fn read_uint(&self, addr: u64, size: usize) -> u64 {
        let mut le = [0u8; 8];
        if let Some(bytes) = self.read_bytes(addr, size.min(8)) {
            le[..bytes.len()].copy_from_slice(&bytes);
        }
        u64::from_le_bytes(le)
    }

    fn write_uint(&mut self, addr: u64, value: u64, size: usize) -> bool {
        self.write_bytes(addr, &value.to_le_bytes()[..size.min(8)])
    }

    fn read_u64(&self, addr: u64) -> u64 {
        self.read_uint(addr, 8)
    }

    fn read_u32(&self, addr: u64) -> u32 {
        u32::from_u64(self.read_uint(addr, 4))
    }

    fn readable(&self, addr: u64, len: usize) -> bool {
        len == 0 || self.read_bytes(addr, len).is_some()
    }

    /// The UTF-16 units a `UNICODE_STRING` at `addr` describes (`Length` bytes).
    fn read_unicode_string(&self, addr: u64) -> Option<Vec<u16>> {
        use windows_sys::Win32::Foundation::UNICODE_STRING;
        if !self.readable(addr, core::mem::size_of::<UNICODE_STRING>()) {
            return None;
        }
        let len: u16 = rd!(self, addr, UNICODE_STRING, Length);
        let buffer = rd_ptr!(self, addr, UNICODE_STRING, Buffer);
        let bytes = self.read_bytes(buffer, usize::from(len & !1))?;
        Some(bytes.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect())
    }
}

impl<D> Guest for Unicorn<'_, D> {
    fn read_bytes(&self, addr: u64, len: usize) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; len];
        self.mem_read(addr, &mut buf).ok().map(|()| buf)
    }

    fn write_bytes(&mut self, addr: u64, bytes: &[u8]) -> bool {
        bytes.is_empty() || self.mem_write(addr, bytes).is_ok()
    }
}

/// UTF-16 of `s`, as kernel strings hold it.
pub fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

/// Little-endian bytes of UTF-16 units.
pub fn wide_bytes(units: &[u16]) -> Vec<u8> {
    units.iter().flat_map(|u| u.to_le_bytes()).collect()
}
