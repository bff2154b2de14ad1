// A minimal ELF64 little-endian reader: exported (.dynsym) function symbols and
// the file offsets uprobes need. Only what uprobe placement requires.

const ELF_MAGIC = 0x464c457f; // "\x7fELF" read as little-endian u32
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const PT_LOAD = 1;
const SHT_DYNSYM = 11;
const SHT_GNU_VERSYM = 0x6fffffff;
const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;
const VERSYM_HIDDEN = 0x8000;

export interface ElfSymbol {
  name: string;
  /** Virtual address (st_value). */
  address: number;
  size: number;
  /** Where the code is in the file: what uprobe_events wants. */
  fileOffset: number;
}

interface LoadSegment {
  vaddr: number;
  offset: number;
  filesz: number;
}

/** Exported function symbols by name; the default version wins over hidden (compat) ones. */
export function readDynamicFunctionSymbols(image: Buffer): Map<string, ElfSymbol> {
  if (image.length < 64 || image.readUInt32LE(0) !== ELF_MAGIC) throw new Error("not an ELF file");
  if (image[4] !== ELFCLASS64 || image[5] !== ELFDATA2LSB)
    throw new Error("not a 64-bit little-endian ELF file");
  const segments = readLoadSegments(image);
  const shoff = Number(image.readBigUInt64LE(0x28));
  const shentsize = image.readUInt16LE(0x3a);
  const shnum = image.readUInt16LE(0x3c);
  let dynsym = -1;
  let versym = -1;
  for (let index = 0; index < shnum; index++) {
    const type = image.readUInt32LE(shoff + index * shentsize + 4);
    if (type === SHT_DYNSYM) dynsym = index;
    else if (type === SHT_GNU_VERSYM) versym = index;
  }
  if (dynsym < 0) throw new Error("ELF file has no .dynsym section");
  const section = (index: number) => {
    const base = shoff + index * shentsize;
    return {
      offset: Number(image.readBigUInt64LE(base + 0x18)),
      size: Number(image.readBigUInt64LE(base + 0x20)),
      link: image.readUInt32LE(base + 0x28),
      entsize: Number(image.readBigUInt64LE(base + 0x38)),
    };
  };
  const symtab = section(dynsym);
  const strtab = section(symtab.link);
  const versions = versym >= 0 ? section(versym) : undefined;
  const symbols = new Map<string, ElfSymbol>();
  const hidden = new Set<string>();
  const count = symtab.size / symtab.entsize;
  for (let index = 1; index < count; index++) {
    const base = symtab.offset + index * symtab.entsize;
    const info = image[base + 4];
    const type = info & 0xf;
    const shndx = image.readUInt16LE(base + 6);
    if ((type !== STT_FUNC && type !== STT_GNU_IFUNC) || shndx === 0) continue;
    const nameOffset = strtab.offset + image.readUInt32LE(base);
    const name = image.toString("latin1", nameOffset, image.indexOf(0, nameOffset));
    const isHidden =
      versions !== undefined && (image.readUInt16LE(versions.offset + index * 2) & VERSYM_HIDDEN) !== 0;
    if (symbols.has(name) && (isHidden || !hidden.has(name))) continue;
    const address = Number(image.readBigUInt64LE(base + 8));
    const fileOffset = vaddrToFileOffset(segments, address);
    if (fileOffset === undefined) continue;
    symbols.set(name, { name, address, size: Number(image.readBigUInt64LE(base + 16)), fileOffset });
    if (isHidden) hidden.add(name);
    else hidden.delete(name);
  }
  return symbols;
}

function readLoadSegments(image: Buffer): LoadSegment[] {
  const phoff = Number(image.readBigUInt64LE(0x20));
  const phentsize = image.readUInt16LE(0x36);
  const phnum = image.readUInt16LE(0x38);
  const segments: LoadSegment[] = [];
  for (let index = 0; index < phnum; index++) {
    const base = phoff + index * phentsize;
    if (image.readUInt32LE(base) !== PT_LOAD) continue;
    segments.push({
      offset: Number(image.readBigUInt64LE(base + 0x08)),
      vaddr: Number(image.readBigUInt64LE(base + 0x10)),
      filesz: Number(image.readBigUInt64LE(base + 0x20)),
    });
  }
  return segments;
}

function vaddrToFileOffset(segments: LoadSegment[], vaddr: number): number | undefined {
  for (const segment of segments) {
    if (vaddr >= segment.vaddr && vaddr < segment.vaddr + segment.filesz) {
      return vaddr - segment.vaddr + segment.offset;
    }
  }
  return undefined;
}
