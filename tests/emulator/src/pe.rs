//! The image loader: what the kernel's loader does to a driver before
//! DriverEntry. Sections are laid out at their RVAs, base relocations applied
//! for the load address, and the import table listed so that every slot can be
//! bound to a modelled API.

use goblin::pe::PE;
use goblin::pe::relocation::{IMAGE_REL_BASED_ABSOLUTE, IMAGE_REL_BASED_DIR64};
use goblin::pe::section_table::{IMAGE_SCN_MEM_EXECUTE, IMAGE_SCN_MEM_READ, IMAGE_SCN_MEM_WRITE};

/// Why the image cannot be loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadError {
    /// goblin refused the file (its message names the structure).
    Malformed(String),
    /// A PE32 image: the model is x64 only.
    NotPe32Plus,
    /// A section's raw data lies outside the file or its RVA outside the image.
    SectionOutOfRange { section: String },
    /// A base relocation of a type the x64 loader does not apply.
    RelocationType { rva: u32, kind: u8 },
    /// A base relocation target outside the image.
    RelocationOutOfRange { rva: u32 },
    /// An import by ordinal: ntoskrnl imports are by name.
    ImportByOrdinal { dll: String, ordinal: u16 },
}

/// Page protections of one section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Protection {
    pub read: bool,
    pub write: bool,
    pub execute: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    pub rva: u32,
    /// Bytes mapped: the virtual size rounded up to a page.
    pub mapped_len: u32,
    pub protection: Protection,
}

/// One import address table slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    pub dll: String,
    pub name: String,
    /// RVA of the IAT slot the loader fills with the API's address.
    pub slot_rva: u32,
}

/// An image laid out for one load address.
#[derive(Debug, Clone)]
pub struct Image {
    pub base: u64,
    pub preferred_base: u64,
    /// The memory image: headers and sections at their RVAs, relocated.
    pub memory: Vec<u8>,
    pub entry_rva: u32,
    pub sections: Vec<Section>,
    pub imports: Vec<Import>,
    pub relocations_applied: usize,
}

const PAGE: u32 = 0x1000;

fn page_round(n: u32) -> u32 {
    n.div_ceil(PAGE).saturating_mul(PAGE)
}

impl Image {
    /// Lays `file` out for loading at `base`.
    pub fn load(file: &[u8], base: u64) -> Result<Image, LoadError> {
        let pe = PE::parse(file).map_err(|e| LoadError::Malformed(e.to_string()))?;
        if !pe.is_64 {
            return Err(LoadError::NotPe32Plus);
        }
        let optional = pe.header.optional_header.ok_or(LoadError::NotPe32Plus)?;
        let size_of_image = optional.windows_fields.size_of_image;
        let headers = optional.windows_fields.size_of_headers as usize;
        let mut memory = vec![0u8; page_round(size_of_image) as usize];
        let header_len = headers.min(file.len()).min(memory.len());
        memory[..header_len].copy_from_slice(&file[..header_len]);

        let mut sections = Vec::new();
        for s in &pe.sections {
            let name = String::from_utf8_lossy(&s.name).trim_end_matches('\0').to_owned();
            let out_of_range = || LoadError::SectionOutOfRange { section: name.clone() };
            let raw_len = s.size_of_raw_data.min(s.virtual_size.max(s.size_of_raw_data)) as usize;
            let raw_len = if s.virtual_size == 0 { raw_len } else { raw_len.min(s.virtual_size as usize) };
            let raw_start = s.pointer_to_raw_data as usize;
            let raw = file.get(raw_start..raw_start.checked_add(raw_len).ok_or_else(out_of_range)?);
            let raw = raw.ok_or_else(out_of_range)?;
            let at = s.virtual_address as usize;
            memory.get_mut(at..at + raw.len()).ok_or_else(out_of_range)?.copy_from_slice(raw);
            let c = s.characteristics;
            sections.push(Section {
                name,
                rva: s.virtual_address,
                mapped_len: page_round(s.virtual_size.max(s.size_of_raw_data)),
                protection: Protection {
                    read: c & IMAGE_SCN_MEM_READ != 0,
                    write: c & IMAGE_SCN_MEM_WRITE != 0,
                    execute: c & IMAGE_SCN_MEM_EXECUTE != 0,
                },
            });
        }

        let preferred_base = optional.windows_fields.image_base;
        let delta = base.wrapping_sub(preferred_base);
        let mut relocations_applied = 0;
        if let Some(relocs) = &pe.relocation_data {
            for block in relocs.blocks() {
                let block = block.map_err(|e| LoadError::Malformed(e.to_string()))?;
                for word in block.words() {
                    let word = word.map_err(|e| LoadError::Malformed(e.to_string()))?;
                    let rva = block.rva + u32::from(word.offset());
                    match word.reloc_type() {
                        t if t == IMAGE_REL_BASED_ABSOLUTE as u8 => {}
                        t if t == IMAGE_REL_BASED_DIR64 as u8 => {
                            let at = rva as usize;
                            let cell =
                                memory.get_mut(at..at + 8).ok_or(LoadError::RelocationOutOfRange { rva })?;
                            let old = u64::from_le_bytes(cell.try_into().unwrap_or([0; 8]));
                            cell.copy_from_slice(&old.wrapping_add(delta).to_le_bytes());
                            relocations_applied += 1;
                        }
                        kind => return Err(LoadError::RelocationType { rva, kind }),
                    }
                }
            }
        }

        let mut imports = Vec::new();
        for import in &pe.imports {
            if import.name.starts_with("ORDINAL ") {
                return Err(LoadError::ImportByOrdinal {
                    dll: import.dll.to_owned(),
                    ordinal: import.ordinal,
                });
            }
            imports.push(Import {
                dll: import.dll.to_owned(),
                name: import.name.to_string(),
                slot_rva: u32::try_from(import.offset).unwrap_or(u32::MAX),
            });
        }

        Ok(Image {
            base,
            preferred_base,
            memory,
            entry_rva: pe.entry,
            sections,
            imports,
            relocations_applied,
        })
    }

    pub fn size(&self) -> u64 {
        self.memory.len() as u64
    }
}
