//! Builds small, valid PE images with chosen imports and version resources,
//! to test the corners of IMPHASH and VS_VERSIONINFO that real files rarely
//! show. Everything lives in one section at RVA 0x1000.
// Test images are small: lengths fit every field they are written to.
#![allow(dead_code, unreachable_pub, clippy::cast_possible_truncation)]

const SECTION_RVA: u32 = 0x1000;
const FILE_ALIGNMENT: usize = 0x200;
const HEADERS: usize = 0x200;

/// One imported symbol.
#[derive(Clone, Copy, Debug)]
pub enum Import<'a> {
    Name(&'a str),
    Ordinal(u16),
    /// A thunk whose hint/name RVA points nowhere readable.
    Dangling,
    /// A thunk of exactly this value (ordinal flag included when wanted).
    Raw(u64),
}

/// One import descriptor.
#[derive(Clone, Debug)]
pub struct Library<'a> {
    pub dll: &'a str,
    pub symbols: Vec<Import<'a>>,
    /// No import lookup table (OriginalFirstThunk 0): the loader and pefile read the IAT.
    pub iat_only: bool,
}

impl<'a> Library<'a> {
    pub fn new(dll: &'a str, symbols: &[Import<'a>]) -> Self {
        Library { dll, symbols: symbols.to_vec(), iat_only: false }
    }
}

#[derive(Debug, Default)]
pub struct PeBuilder {
    pub pe32_plus: bool,
    body: Vec<u8>,
    imports: Option<(u32, u32)>,
    resources: Option<(u32, u32)>,
}

impl PeBuilder {
    pub fn new(pe32_plus: bool) -> Self {
        PeBuilder { pe32_plus, ..PeBuilder::default() }
    }

    fn rva(&self) -> u32 {
        SECTION_RVA + self.body.len() as u32
    }

    fn align(&mut self, to: usize) {
        while self.body.len() % to != 0 {
            self.body.push(0);
        }
    }

    fn put(&mut self, bytes: &[u8]) -> u32 {
        self.align(8);
        let rva = self.rva();
        self.body.extend_from_slice(bytes);
        rva
    }

    fn patch_u32(&mut self, rva: u32, value: u32) {
        let at = (rva - SECTION_RVA) as usize;
        self.body[at..at + 4].copy_from_slice(&value.to_le_bytes());
    }

    pub fn imports(mut self, libraries: &[Library<'_>]) -> Self {
        let descriptors = self.put(&vec![0u8; 20 * (libraries.len() + 1)]);
        let thunk = if self.pe32_plus { 8 } else { 4 };
        for (i, library) in libraries.iter().enumerate() {
            let mut entries = Vec::new();
            for symbol in &library.symbols {
                let value: u64 = match symbol {
                    Import::Name(name) => {
                        let mut hint_name = vec![0u8, 0];
                        hint_name.extend_from_slice(name.as_bytes());
                        hint_name.push(0);
                        u64::from(self.put(&hint_name))
                    }
                    Import::Ordinal(n) => u64::from(*n) | if self.pe32_plus { 1 << 63 } else { 1 << 31 },
                    Import::Dangling => 0x7000_0000,
                    Import::Raw(value) => *value,
                };
                entries.push(value);
            }
            let table = |entries: &[u64]| -> Vec<u8> {
                let mut bytes = Vec::new();
                for e in entries.iter().chain([&0]) {
                    if thunk == 8 {
                        bytes.extend_from_slice(&e.to_le_bytes());
                    } else {
                        bytes.extend_from_slice(&(*e as u32).to_le_bytes());
                    }
                }
                bytes
            };
            let lookup = if library.iat_only { 0 } else { self.put(&table(&entries)) };
            let address = self.put(&table(&entries));
            let mut name = library.dll.as_bytes().to_vec();
            name.push(0);
            let name = self.put(&name);
            let d = descriptors + 20 * i as u32;
            self.patch_u32(d, lookup);
            self.patch_u32(d + 12, name);
            self.patch_u32(d + 16, address);
        }
        self.imports = Some((descriptors, 20 * (libraries.len() as u32 + 1)));
        self
    }

    /// A resource tree holding `block` as RT_VERSION, name 1, language 0x409.
    pub fn version_resource(mut self, block: &[u8]) -> Self {
        self.align(8);
        let root = self.rva();
        // Three directory levels of one entry each (16 + 8 bytes), then the data entry.
        let mut tree = Vec::new();
        let dir = |tree: &mut Vec<u8>, id: u32, next: u32| {
            tree.extend_from_slice(&[0u8; 12]);
            tree.extend_from_slice(&0u16.to_le_bytes());
            tree.extend_from_slice(&1u16.to_le_bytes());
            tree.extend_from_slice(&id.to_le_bytes());
            tree.extend_from_slice(&next.to_le_bytes());
        };
        dir(&mut tree, 16, 0x8000_0000 | 24);
        dir(&mut tree, 1, 0x8000_0000 | 48);
        dir(&mut tree, 0x409, 72);
        let data_rva = root + 72 + 16;
        tree.extend_from_slice(&data_rva.to_le_bytes());
        tree.extend_from_slice(&(block.len() as u32).to_le_bytes());
        tree.extend_from_slice(&[0u8; 8]);
        tree.extend_from_slice(block);
        self.body.extend_from_slice(&tree);
        self.resources = Some((root, tree.len() as u32));
        self
    }

    pub fn build(mut self) -> Vec<u8> {
        self.align(FILE_ALIGNMENT);
        if self.body.is_empty() {
            self.body.resize(FILE_ALIGNMENT, 0);
        }
        let optional_size: u16 = if self.pe32_plus { 240 } else { 224 };
        let mut out = vec![0u8; HEADERS];
        out[0..2].copy_from_slice(b"MZ");
        out[0x3c..0x40].copy_from_slice(&0x40u32.to_le_bytes());
        let mut h = Vec::new();
        h.extend_from_slice(b"PE\0\0");
        h.extend_from_slice(&(if self.pe32_plus { 0x8664u16 } else { 0x14c }).to_le_bytes());
        h.extend_from_slice(&1u16.to_le_bytes()); // sections
        h.extend_from_slice(&[0u8; 12]); // time, symbols
        h.extend_from_slice(&optional_size.to_le_bytes());
        h.extend_from_slice(&0x2102u16.to_le_bytes()); // executable, 32-bit machine, DLL
        let size_of_image = SECTION_RVA + (self.body.len() as u32).next_multiple_of(0x1000);
        h.extend_from_slice(&(if self.pe32_plus { 0x20bu16 } else { 0x10b }).to_le_bytes());
        h.extend_from_slice(&[14, 0]); // linker
        h.extend_from_slice(&[0u8; 12]); // code / data sizes
        h.extend_from_slice(&0u32.to_le_bytes()); // entry point
        h.extend_from_slice(&SECTION_RVA.to_le_bytes()); // base of code
        if self.pe32_plus {
            h.extend_from_slice(&0x1_8000_0000u64.to_le_bytes());
        } else {
            h.extend_from_slice(&SECTION_RVA.to_le_bytes()); // base of data
            h.extend_from_slice(&0x1000_0000u32.to_le_bytes());
        }
        h.extend_from_slice(&0x1000u32.to_le_bytes());
        h.extend_from_slice(&(FILE_ALIGNMENT as u32).to_le_bytes());
        h.extend_from_slice(&[6, 0, 0, 0, 0, 0, 0, 0, 6, 0, 0, 0]); // OS, image, subsystem versions
        h.extend_from_slice(&0u32.to_le_bytes()); // win32 version
        h.extend_from_slice(&size_of_image.to_le_bytes());
        h.extend_from_slice(&(HEADERS as u32).to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes()); // checksum
        h.extend_from_slice(&2u16.to_le_bytes()); // GUI
        h.extend_from_slice(&0x0140u16.to_le_bytes()); // dynamic base, NX
        let stack = [0x10_0000u64, 0x1000, 0x10_0000, 0x1000];
        for v in stack {
            if self.pe32_plus {
                h.extend_from_slice(&v.to_le_bytes());
            } else {
                h.extend_from_slice(&(v as u32).to_le_bytes());
            }
        }
        h.extend_from_slice(&0u32.to_le_bytes()); // loader flags
        h.extend_from_slice(&16u32.to_le_bytes());
        for index in 0..16 {
            let (rva, size) = match index {
                1 => self.imports.unwrap_or((0, 0)),
                2 => self.resources.unwrap_or((0, 0)),
                _ => (0, 0),
            };
            h.extend_from_slice(&rva.to_le_bytes());
            h.extend_from_slice(&size.to_le_bytes());
        }
        let mut section = [0u8; 40];
        section[..5].copy_from_slice(b".data");
        section[8..12].copy_from_slice(&(self.body.len() as u32).to_le_bytes());
        section[12..16].copy_from_slice(&SECTION_RVA.to_le_bytes());
        section[16..20].copy_from_slice(&(self.body.len() as u32).to_le_bytes());
        section[20..24].copy_from_slice(&(HEADERS as u32).to_le_bytes());
        section[36..40].copy_from_slice(&0xC000_0040u32.to_le_bytes());
        h.extend_from_slice(&section);
        out[0x40..0x40 + h.len()].copy_from_slice(&h);
        out.extend_from_slice(&self.body);
        out
    }
}

/// One `VS_VERSIONINFO` node: header, key, padding, value, padding, children.
pub fn node(key: &str, value: &[u8], value_length: u16, text: bool, children: &[Vec<u8>]) -> Vec<u8> {
    let mut n = vec![0u8; 6];
    n[2..4].copy_from_slice(&value_length.to_le_bytes());
    n[4..6].copy_from_slice(&u16::from(text).to_le_bytes());
    for unit in key.encode_utf16().chain([0]) {
        n.extend_from_slice(&unit.to_le_bytes());
    }
    while n.len() % 4 != 0 {
        n.push(0);
    }
    n.extend_from_slice(value);
    for child in children {
        while n.len() % 4 != 0 {
            n.push(0);
        }
        n.extend_from_slice(child);
    }
    let len = n.len() as u16;
    n[0..2].copy_from_slice(&len.to_le_bytes());
    n
}

/// A `String` node; `value_length_in_bytes` writes wValueLength as some compilers do.
pub fn string(key: &str, value: &str, value_length_in_bytes: bool) -> Vec<u8> {
    let mut bytes = Vec::new();
    for unit in value.encode_utf16().chain([0]) {
        bytes.extend_from_slice(&unit.to_le_bytes());
    }
    let chars = value.encode_utf16().count() as u16 + 1;
    node(key, &bytes, if value_length_in_bytes { chars * 2 } else { chars }, true, &[])
}

/// A whole `VS_VERSIONINFO` with string tables `(key, strings)` and an optional translation.
pub fn version_block(
    tables: &[(&str, Vec<Vec<u8>>)],
    translation: Option<(u16, u16)>,
    file: [u16; 4],
) -> Vec<u8> {
    let mut fixed = Vec::new();
    let ms = (u32::from(file[0]) << 16) | u32::from(file[1]);
    let ls = (u32::from(file[2]) << 16) | u32::from(file[3]);
    for v in [0xFEEF_04BDu32, 0x0001_0000, ms, ls, ms, ls, 0x3f, 0, 4, 2, 0, 0, 0] {
        fixed.extend_from_slice(&v.to_le_bytes());
    }
    let tables: Vec<Vec<u8>> = tables.iter().map(|(key, strings)| node(key, &[], 0, true, strings)).collect();
    let mut children = vec![node("StringFileInfo", &[], 0, true, &tables)];
    if let Some((language, code_page)) = translation {
        let mut pair = language.to_le_bytes().to_vec();
        pair.extend_from_slice(&code_page.to_le_bytes());
        let var = node("Translation", &pair, 4, false, &[]);
        children.push(node("VarFileInfo", &[], 0, true, &[var]));
    }
    node("VS_VERSION_INFO", &fixed, 52, false, &children)
}
