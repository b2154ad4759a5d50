//! Context cues over a page's layout, where a single pattern is not enough: identity documents
//! (an MRZ-shaped zone even when its check digits fail, a document title beside personal
//! fields), and names and addresses next to their field labels, in English, French, Spanish,
//! German, Italian, Portuguese, Korean, Japanese and Chinese. Labels are matched on folded text
//! (lower case, accents removed) and, when long enough, with one OCR error per six letters.
//!
//! Every cue becomes [`Evidence`] with a box; the policy decides whether it counts. The words
//! and thresholds here describe documents in general; none is fitted to one image.

use crate::bbox::BoundingBox;
use crate::evidence::{Evidence, EvidenceSource};
use crate::kind::EntityType;
use crate::mask::mask;
use crate::page::OcrPage;

/// Confidence of an identity document shown by its title and filled personal fields.
const DOC_TITLE_AND_FIELDS: f32 = 0.8;
/// A title alone (a closed passport cover, a blank template): reported, counted only by `strict`.
const DOC_TITLE_ONLY: f32 = 0.35;
/// An MRZ-shaped zone whose check digits do not pass (specimens, OCR errors).
const DOC_MRZ_SHAPE: f32 = 0.8;
/// A portrait beside dense text.
const DOC_PORTRAIT: f32 = 0.8;

/// Titles of identity documents, folded (lower case, no accents, no spaces or punctuation).
const DOC_TITLES: &[&str] = &[
    // English
    "passport",
    "identitycard",
    "idcard",
    "nationalidentity",
    "nationalid",
    "driverslicense",
    "driverlicense",
    "driverslicence",
    "drivinglicence",
    "drivinglicense",
    "residencepermit",
    "residentcard",
    "permanentresident",
    "traveldocument",
    "bordercrossingcard",
    // French
    "passeport",
    "cartedidentite",
    "cartenationaledidentite",
    "permisdeconduire",
    "titredesejour",
    "cartedesejour",
    "cartederesident",
    // Spanish
    "pasaporte",
    "documentonacionaldeidentidad",
    "ceduladeidentidad",
    "carnedeidentidad",
    "carnetdeidentidad",
    "permisodeconducir",
    "licenciadeconducir",
    "permisoderesidencia",
    "tarjetaderesidencia",
    // German
    "reisepass",
    "personalausweis",
    "identitatskarte",
    "fuhrerschein",
    "aufenthaltstitel",
    "aufenthaltserlaubnis",
    "niederlassungserlaubnis",
    // Italian
    "passaporto",
    "cartadidentita",
    "patentediguida",
    "permessodisoggiorno",
    // Portuguese
    "passaporte",
    "bilhetedeidentidade",
    "cartaodecidadao",
    "carteiradeidentidade",
    "carteiranacionaldehabilitacao",
    "autorizacaoderesidencia",
    "tituloderesidencia",
    // Korean
    "여권",
    "주민등록증",
    "운전면허증",
    "외국인등록증",
    "영주증",
    // Japanese
    "旅券",
    "在留カード",
    "運転免許証",
    "個人番号カード",
    "身分証明書",
    // Chinese
    "护照",
    "護照",
    "居民身份证",
    "身份证",
    "身分證",
    "驾驶证",
    "駕駛執照",
    "居留证",
    "居留證",
];

/// Which personal field a label introduces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Name,
    Address,
    BirthDate,
    DocumentNumber,
    /// Sex or nationality: personal, but its value identifies no one.
    Personal,
}

impl Field {
    /// Two labels read as one: the one that says more about a person wins.
    fn min_personal(self, other: Field) -> Field {
        let rank = |f: Field| match f {
            Field::Name => 0,
            Field::Address => 1,
            Field::BirthDate => 2,
            Field::DocumentNumber => 3,
            Field::Personal => 4,
        };
        if rank(other) < rank(self) {
            other
        } else {
            self
        }
    }
}

/// Field labels, folded. Short ones (five letters or fewer) must match a whole word.
const LABELS: &[(&str, Field)] = &[
    // Names
    ("name", Field::Name),
    ("fullname", Field::Name),
    ("surname", Field::Name),
    ("surnames", Field::Name),
    ("givenname", Field::Name),
    ("givennames", Field::Name),
    ("firstname", Field::Name),
    ("lastname", Field::Name),
    ("familyname", Field::Name),
    ("forename", Field::Name),
    ("forenames", Field::Name),
    ("nom", Field::Name),
    ("prenom", Field::Name),
    ("prenoms", Field::Name),
    ("nomdefamille", Field::Name),
    ("nomdusage", Field::Name),
    ("apellido", Field::Name),
    ("apellidos", Field::Name),
    ("primerapellido", Field::Name),
    ("segundoapellido", Field::Name),
    ("nombre", Field::Name),
    ("nombres", Field::Name),
    ("prenombres", Field::Name),
    ("vorname", Field::Name),
    ("vornamen", Field::Name),
    ("nachname", Field::Name),
    ("familienname", Field::Name),
    ("cognome", Field::Name),
    ("nome", Field::Name),
    ("nomi", Field::Name),
    ("sobrenome", Field::Name),
    ("apelidos", Field::Name),
    ("nomecompleto", Field::Name),
    ("성명", Field::Name),
    ("이름", Field::Name),
    ("氏名", Field::Name),
    ("姓名", Field::Name),
    ("名前", Field::Name),
    // Addresses
    ("address", Field::Address),
    ("homeaddress", Field::Address),
    ("domicile", Field::Address),
    ("adresse", Field::Address),
    ("direccion", Field::Address),
    ("domicilio", Field::Address),
    ("anschrift", Field::Address),
    ("wohnort", Field::Address),
    ("indirizzo", Field::Address),
    ("residenza", Field::Address),
    ("morada", Field::Address),
    ("endereco", Field::Address),
    ("주소", Field::Address),
    ("住所", Field::Address),
    ("地址", Field::Address),
    ("住址", Field::Address),
    // Birth dates
    ("dateofbirth", Field::BirthDate),
    ("birthdate", Field::BirthDate),
    ("datedenaissance", Field::BirthDate),
    ("fechadenacimiento", Field::BirthDate),
    ("geburtsdatum", Field::BirthDate),
    ("datadinascita", Field::BirthDate),
    ("datadenascimento", Field::BirthDate),
    ("생년월일", Field::BirthDate),
    ("生年月日", Field::BirthDate),
    ("出生日期", Field::BirthDate),
    // Document numbers
    ("passportno", Field::DocumentNumber),
    ("passportnumber", Field::DocumentNumber),
    ("documentno", Field::DocumentNumber),
    ("documentnumber", Field::DocumentNumber),
    ("cardnumber", Field::DocumentNumber),
    ("licenceno", Field::DocumentNumber),
    ("licenseno", Field::DocumentNumber),
    ("numerodedocument", Field::DocumentNumber),
    ("numerodedocumento", Field::DocumentNumber),
    ("numerodocumento", Field::DocumentNumber),
    ("dokumentennummer", Field::DocumentNumber),
    ("ausweisnummer", Field::DocumentNumber),
    ("passnummer", Field::DocumentNumber),
    ("여권번호", Field::DocumentNumber),
    ("주민등록번호", Field::DocumentNumber),
    ("旅券番号", Field::DocumentNumber),
    ("护照号", Field::DocumentNumber),
    ("护照号码", Field::DocumentNumber),
    // Sex, nationality
    ("sex", Field::Personal),
    ("sexe", Field::Personal),
    ("sexo", Field::Personal),
    ("geschlecht", Field::Personal),
    ("sesso", Field::Personal),
    ("nationality", Field::Personal),
    ("nationalite", Field::Personal),
    ("nacionalidad", Field::Personal),
    ("staatsangehorigkeit", Field::Personal),
    ("nazionalita", Field::Personal),
    ("nacionalidade", Field::Personal),
    ("성별", Field::Personal),
    ("국적", Field::Personal),
    ("国籍", Field::Personal),
    ("性别", Field::Personal),
];

/// Words that follow a name label without being a name ("Name of the product", "Nom du fichier").
const NOT_NAMES: &[&str] = &[
    "of",
    "the",
    "and",
    "or",
    "de",
    "du",
    "des",
    "la",
    "le",
    "del",
    "der",
    "die",
    "das",
    "des",
    "di",
    "da",
    "do",
    "to",
    "for",
    "your",
    "here",
    "please",
    "enter",
    "print",
    "field",
    "type",
    "date",
    "number",
    "no",
    "signature",
    "address",
    "company",
    "product",
    "file",
    "user",
    "required",
    "optional",
    "unknown",
    "none",
    "n/a",
    "na",
    "title",
    "holder",
    "sex",
    "birth",
    "place",
    "nationality",
    "value",
    "example",
    "sample",
    "first",
    "last",
    "middle",
    "full",
];

/// Words before "name" that make it something else's name ("Product name", "File name").
const NOT_PERSON_BEFORE: &[&str] = &[
    "product",
    "item",
    "file",
    "company",
    "store",
    "business",
    "brand",
    "host",
    "domain",
    "user",
    "field",
    "column",
    "menu",
    "project",
    "service",
    "device",
    "bucket",
    "event",
    "model",
    "display",
    "shop",
    "vendor",
    "merchant",
    "app",
    "table",
    "key",
    "bank",
    "account",
    "street",
    "street",
    "city",
    "country",
    "band",
    "team",
    "course",
    "school",
    "package",
    "class",
    "function",
    "variable",
    "tag",
    "group",
    "place",
    "trade",
    "brandname",
    "domain",
];

/// Lower-case words inside names ("Ludwig van Beethoven", "María de la Paz").
const PARTICLES: &[&str] = &[
    "de", "del", "della", "der", "den", "van", "von", "da", "di", "do", "dos", "das", "du", "la",
    "le", "bin", "binti", "al", "el", "y", "e", "zu", "ter", "ten",
];

/// A word of a line, folded for matching.
struct Word<'a> {
    text: &'a str,
    /// Lower case, accents removed, letters and digits only.
    fold: String,
    bbox: BoundingBox,
    confidence: f32,
    /// The word, cut at punctuation, each part folded ("Surname/Nom" → surname, nom).
    parts: Vec<String>,
}

struct Line<'a> {
    words: Vec<Word<'a>>,
    bbox: BoundingBox,
}

fn fold_char(c: char) -> Option<char> {
    let c = c.to_lowercase().next().unwrap_or(c);
    let folded = match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' => 'a',
        'ç' | 'ć' | 'č' => 'c',
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' => 'e',
        'ì' | 'í' | 'î' | 'ï' | 'ī' => 'i',
        'ñ' | 'ń' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' => 'o',
        'ù' | 'ú' | 'û' | 'ü' | 'ū' => 'u',
        'ý' | 'ÿ' => 'y',
        'š' | 'ś' => 's',
        'ž' | 'ź' | 'ż' => 'z',
        'ł' => 'l',
        c => c,
    };
    folded.is_alphanumeric().then_some(folded)
}

/// Lower case, accents removed, letters and digits only ("Prénom(s):" → "prenoms").
pub fn fold(text: &str) -> String {
    text.chars().filter_map(fold_char).collect()
}

fn parts(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric() && c != '\'' && c != '’')
        .map(fold)
        .filter(|p| !p.is_empty())
        .collect()
}

fn lines(page: &OcrPage) -> Vec<Line<'_>> {
    page.lines
        .iter()
        .filter(|l| !l.words.is_empty())
        .map(|l| {
            let words: Vec<Word<'_>> = l
                .words
                .iter()
                .map(|w| Word {
                    text: &w.text,
                    fold: fold(&w.text),
                    bbox: w.bbox,
                    confidence: w.confidence,
                    parts: parts(&w.text),
                })
                .collect();
            let bbox = words
                .iter()
                .skip(1)
                .fold(words[0].bbox, |acc, w| acc.union(&w.bbox));
            Line { words, bbox }
        })
        .collect()
}

/// Levenshtein distance of two short strings (chars).
fn edit_distance(a: &[char], b: &[char]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Smallest edit distance between `needle` and any substring of `hay` (Sellers' algorithm).
fn substring_distance(hay: &[char], needle: &[char]) -> usize {
    let mut prev: Vec<usize> = (0..=needle.len()).collect();
    let mut best = prev[needle.len()];
    for ch in hay {
        let mut cur = vec![0; needle.len() + 1];
        for (j, cn) in needle.iter().enumerate() {
            let sub = prev[j] + usize::from(ch != cn);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        best = best.min(cur[needle.len()]);
        prev = cur;
    }
    best
}

/// OCR errors tolerated in a label of `len` letters: one per six letters (Latin); none in
/// Hangul or CJK, where one character is a whole syllable or word.
fn tolerance(needle: &str) -> usize {
    tolerance_per(needle, 6)
}

/// Titles are searched anywhere in a line, so they get less slack: one error per eight letters.
fn title_tolerance(needle: &str) -> usize {
    tolerance_per(needle, 8)
}

fn tolerance_per(needle: &str, per: usize) -> usize {
    if !needle.is_ascii() {
        0
    } else {
        needle.chars().count() / per
    }
}

/// Whether the folded `part` is the label `label`: equal for short labels; prefix-equal for a
/// Hangul or CJK label glued to its value ("성명홍길동"); within the tolerance for long ones.
fn part_is_label(part: &str, label: &str, glued: bool) -> bool {
    if part == label {
        return true;
    }
    let cjk = !label.is_ascii();
    if cjk {
        return glued && part.starts_with(label);
    }
    let tol = tolerance(label);
    if tol == 0 {
        return false;
    }
    let (p, l): (Vec<char>, Vec<char>) = (part.chars().collect(), label.chars().collect());
    p.len().abs_diff(l.len()) <= tol && edit_distance(&p, &l) <= tol
}

/// The label a run of parts starting at `parts[i]` spells (up to four parts joined, so that
/// "Date of birth" and "Dateofbirth" both match), and how many parts it took.
fn label_at(parts: &[&str], i: usize) -> Option<(Field, usize, &'static str)> {
    let mut best: Option<(Field, usize, &'static str)> = None;
    let mut joined = String::new();
    for n in 1..=4 {
        let Some(p) = parts.get(i + n - 1) else { break };
        joined.push_str(p);
        for (label, field) in LABELS {
            let long_enough = label.chars().count() > 5 || !label.is_ascii();
            let hit = if n == 1 || long_enough {
                part_is_label(&joined, label, n == 1)
            } else {
                false
            };
            if hit && best.is_none_or(|b| n >= b.1) {
                best = Some((*field, n, label));
            }
        }
    }
    best
}

/// Where a label was found: line, the word its last part is in, and the field.
struct LabelHit {
    line: usize,
    first_word: usize,
    last_word: usize,
    field: Field,
    /// A Hangul/CJK label glued to its value: the value is the rest of this word.
    glued_rest: Option<String>,
}

fn find_labels(lines: &[Line<'_>]) -> Vec<LabelHit> {
    let mut hits: Vec<LabelHit> = Vec::new();
    for (li, line) in lines.iter().enumerate() {
        // Flatten the parts with the word each came from.
        let flat: Vec<(usize, &str)> = line
            .words
            .iter()
            .enumerate()
            .flat_map(|(wi, w)| w.parts.iter().map(move |p| (wi, p.as_str())))
            .collect();
        let parts: Vec<&str> = flat.iter().map(|(_, p)| *p).collect();
        let mut i = 0;
        while i < parts.len() {
            if let Some((field, n, label)) = label_at(&parts, i) {
                let (first_word, last_word) = (flat[i].0, flat[i + n - 1].0);
                let label_words = &line.words[first_word..=last_word];
                // Markup ("<name>"), and labels inside prose ("his father's name was"): a
                // label starts its line, ends with a colon or slash, or follows a column gap.
                let markup = label_words.iter().any(|w| w.text.contains(['<', '>']));
                let cjk = !label.is_ascii();
                let last_text = label_words.last().map_or("", |w| w.text);
                let next_colon = line
                    .words
                    .get(last_word + 1)
                    .is_some_and(|w| w.text.starts_with([':', '：']));
                let gap_before = first_word
                    .checked_sub(1)
                    .and_then(|p| line.words.get(p))
                    .is_some_and(|p| {
                        let h = line.words[first_word].bbox.height.max(8);
                        line.words[first_word].bbox.left > p.bbox.right() + 2 * h
                            || p.text.ends_with([':', '：', '|', ';'])
                    });
                let placed = cjk
                    || first_word == 0
                    || gap_before
                    || next_colon
                    || last_text.contains([':', '：', '/'])
                    || label_words.iter().any(|w| w.text.contains('/'));
                if markup || !placed {
                    i += n;
                    continue;
                }
                // The rest of the label's last word is the start of the value ("Name:JOHN",
                // "성명홍길동").
                let parts_before_in_word = flat[..i + n]
                    .iter()
                    .filter(|(w, _)| *w == last_word)
                    .count();
                let last_part = parts[i + n - 1];
                let glued_rest = if n == 1 && cjk && last_part != label {
                    // A Hangul/CJK label glued to its value within one part.
                    let label_chars = label.chars().count();
                    let part_start = last_text
                        .char_indices()
                        .find(|(_, c)| c.is_alphanumeric())
                        .map_or(0, |(i, _)| i);
                    last_text[part_start..]
                        .char_indices()
                        .nth(label_chars)
                        .map(|(i, _)| last_text[part_start + i..].to_string())
                } else {
                    word_rest_after_parts(last_text, parts_before_in_word)
                }
                .filter(|r| {
                    // "Nom/Surname": the rest is another label, not a value.
                    let rest = self::parts(r);
                    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
                    !rest.is_empty() && !(0..rest.len()).all(|k| label_at(&rest, k).is_some())
                });
                // A bilingual label ("Nom/Surname", "Surname / Nom") is one label: extend the
                // previous hit when only punctuation separates them.
                if let Some(prev) = hits.last_mut() {
                    let between_empty = prev.line == li
                        && (prev.last_word + 1..first_word).all(|w| {
                            line.words.get(w).is_some_and(|w| {
                                w.fold.is_empty()
                                    || ["y", "and", "et", "und", "e", "o", "or", "ou"]
                                        .contains(&w.fold.as_str())
                            })
                        })
                        && first_word >= prev.last_word;
                    if between_empty && glued_rest.is_none() && prev.glued_rest.is_none() {
                        prev.last_word = last_word;
                        if prev.field != field {
                            prev.field = prev.field.min_personal(field);
                        }
                        i += n;
                        continue;
                    }
                }
                hits.push(LabelHit {
                    line: li,
                    first_word,
                    last_word,
                    field,
                    glued_rest,
                });
                i += n;
            } else {
                i += 1;
            }
        }
    }
    hits
}

/// The text of `word` after its first `k` parts (parts as [`parts`] cuts them), without the
/// punctuation that separated them: "Name:JOHN" after 1 part is "JOHN"; "성명홍길동" after the
/// label's characters is handled by the caller (one part).
fn word_rest_after_parts(word: &str, k: usize) -> Option<String> {
    let is_sep = |c: char| !c.is_alphanumeric() && c != '\'' && c != '’';
    let mut seen = 0;
    let mut in_part = false;
    for (i, c) in word.char_indices() {
        let sep = is_sep(c);
        if !sep && !in_part {
            if seen == k {
                return Some(word[i..].to_string());
            }
            in_part = true;
        } else if sep && in_part {
            in_part = false;
            seen += 1;
        }
    }
    None
}

fn is_label_word(w: &Word<'_>) -> bool {
    let parts: Vec<&str> = w.parts.iter().map(String::as_str).collect();
    !parts.is_empty() && (0..parts.len()).all(|i| label_at(&parts, i).is_some())
}

/// The value words of a label: after it on its line, else the line just below it (overlapping
/// it horizontally, within two line heights). Stops at the next label or a wide gap.
fn value_words<'l, 'a>(
    lines: &'l [Line<'a>],
    hit: &LabelHit,
) -> Option<(usize, Vec<&'l Word<'a>>)> {
    let line = lines.get(hit.line)?;
    let label_box = line
        .words
        .get(hit.first_word)?
        .bbox
        .union(&line.words.get(hit.last_word)?.bbox);
    let h = label_box.height.max(8);
    let take = |words: &'l [Word<'a>], start: usize| -> Vec<&'l Word<'a>> {
        let mut out: Vec<&'l Word<'a>> = Vec::new();
        for w in words.iter().skip(start) {
            if is_label_word(w) && !out.is_empty() {
                break;
            }
            if let Some(prev) = out.last() {
                if w.bbox.left > prev.bbox.right() + 3 * h {
                    break;
                }
            }
            if is_label_word(w) || w.fold.is_empty() {
                continue;
            }
            out.push(w);
            if out.len() >= 6 {
                break;
            }
        }
        out
    };
    let same = take(&line.words, hit.last_word + 1);
    if let Some(first) = same.first() {
        if first.bbox.left <= label_box.right() + 6 * h {
            return Some((hit.line, same));
        }
    }
    // The line below: the first line whose top is under the label and within two heights.
    for (li, below) in lines.iter().enumerate().skip(hit.line + 1).take(4) {
        let top = below.bbox.top;
        if top + 2 < label_box.bottom() {
            continue;
        }
        if top > label_box.bottom() + 2 * h {
            break;
        }
        let start = below.words.iter().position(|w| {
            w.bbox.right() + h > label_box.left && w.bbox.left < label_box.right() + 2 * h
        });
        if let Some(start) = start {
            if below.words[start].bbox.left + 2 * h < label_box.left {
                // Starts well left of the label: another column's text.
                continue;
            }
            let words = take(&below.words, start);
            if !words.is_empty() {
                return Some((li, words));
            }
        }
    }
    None
}

fn letters(s: &str) -> usize {
    s.chars().filter(|c| c.is_alphabetic()).count()
}

fn is_cjk_or_hangul(c: char) -> bool {
    matches!(c, '\u{AC00}'..='\u{D7A3}' | '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}')
}

/// Whether words look like a person's name: letters only (hyphens, apostrophes, dots,
/// commas), one to five words, not label or filler words; or two to four Hangul/CJK characters.
fn looks_like_name(words: &[&str]) -> bool {
    let joined: String = words.join(" ");
    let chars: Vec<char> = joined.chars().filter(|c| !c.is_whitespace()).collect();
    if chars.is_empty() {
        return false;
    }
    if chars.iter().all(|&c| is_cjk_or_hangul(c)) {
        return (2..=4).contains(&chars.len());
    }
    if words.len() > 5 || letters(&joined) < 3 {
        return false;
    }
    let allowed = |c: char| c.is_alphabetic() || "-'’.,<".contains(c);
    if !chars.iter().all(|&c| allowed(c)) {
        return false;
    }
    // Names are capitalised (or all capitals); particles may not be.
    let capitalised = |w: &str| {
        w.chars()
            .find(|c| c.is_alphabetic())
            .is_some_and(char::is_uppercase)
            || PARTICLES.contains(&fold(w).as_str())
    };
    let first_ok = words
        .first()
        .is_some_and(|w| !NOT_NAMES.contains(&fold(w).as_str()));
    first_ok
        && words.iter().all(|w| {
            let f = fold(w);
            !f.is_empty()
                && capitalised(w)
                && (!NOT_NAMES.contains(&f.as_str()) || PARTICLES.contains(&f.as_str()))
        })
        && words.iter().any(|w| letters(w) >= 2)
}

/// An address value: letters and a number (house or postal code), or several comma-separated parts.
fn looks_like_address(words: &[&str]) -> bool {
    let joined = words.join(" ");
    let digits = joined.chars().filter(char::is_ascii_digit).count();
    let l = letters(&joined);
    (l >= 3 && digits >= 1 && digits <= l * 3) || (joined.matches(',').count() >= 2 && l >= 6)
}

fn looks_like_date(words: &[&str]) -> bool {
    let joined = words.join(" ");
    let digits = joined.chars().filter(char::is_ascii_digit).count();
    (4..=8).contains(&digits) || (digits >= 2 && letters(&joined) >= 3 && letters(&joined) <= 9)
}

fn looks_like_number(words: &[&str]) -> bool {
    words.first().is_some_and(|w| {
        let digits = w.chars().filter(char::is_ascii_digit).count();
        let alnum = w.chars().filter(|c| c.is_alphanumeric()).count();
        (5..=20).contains(&alnum) && digits >= 3
    })
}

fn union(words: &[&Word<'_>]) -> Option<BoundingBox> {
    let first = words.first()?.bbox;
    Some(
        words
            .iter()
            .skip(1)
            .fold(first, |acc, w| acc.union(&w.bbox)),
    )
}

fn mean_conf(words: &[&Word<'_>]) -> f32 {
    if words.is_empty() {
        return 0.0;
    }
    words.iter().map(|w| w.confidence).sum::<f32>() / words.len() as f32
}

fn evidence(
    kind: EntityType,
    masked: String,
    conf: f32,
    bbox: Option<BoundingBox>,
    note: &str,
) -> Evidence {
    Evidence {
        kind: kind.into(),
        masked_value: masked,
        confidence: Some((conf * 1000.0).round() / 1000.0),
        bbox,
        source: EvidenceSource::Ocr,
        counted: false,
        note: Some(note.to_string()),
    }
}

/// What the labels of a page show: names and addresses as evidence, and which personal fields
/// hold a value (for the identity-document cue).
struct Fields {
    evidence: Vec<Evidence>,
    filled: Vec<Field>,
}

fn labelled_fields(lines: &[Line<'_>]) -> Fields {
    let mut out = Fields {
        evidence: Vec::new(),
        filled: Vec::new(),
    };
    for hit in find_labels(lines) {
        let glued: Option<(usize, Vec<&Word<'_>>)> = hit.glued_rest.as_ref().and_then(|_| {
            let line = lines.get(hit.line)?;
            let mut words = vec![line.words.get(hit.last_word)?];
            words.extend(
                line.words
                    .iter()
                    .skip(hit.last_word + 1)
                    .take_while(|w| !is_label_word(w))
                    .take(5),
            );
            Some((hit.line, words))
        });
        let Some((value_line, words)) = glued.or_else(|| value_words(lines, &hit)) else {
            continue;
        };
        let texts: Vec<&str> = match &hit.glued_rest {
            Some(rest) => std::iter::once(rest.as_str())
                .chain(words.iter().skip(1).map(|w| w.text))
                .collect(),
            None => words.iter().map(|w| w.text).collect(),
        };
        let below = value_line != hit.line;
        let ocr = mean_conf(&words);
        let weigh = |base: f32| base * (0.85 + 0.15 * ocr.clamp(0.0, 1.0));
        let before = hit
            .first_word
            .checked_sub(1)
            .and_then(|i| lines.get(hit.line)?.words.get(i))
            .map(|w| w.fold.clone());
        let other_thing = before.is_some_and(|b| NOT_PERSON_BEFORE.contains(&b.as_str()));
        match hit.field {
            Field::Name if !other_thing && looks_like_name(&texts) => {
                let value = texts.join(" ");
                let base = if below { 0.65 } else { 0.75 };
                out.evidence.push(evidence(
                    EntityType::Person,
                    mask(EntityType::Person, &value),
                    weigh(base),
                    union(&words),
                    if below {
                        "person:label_above"
                    } else {
                        "person:label"
                    },
                ));
                out.filled.push(Field::Name);
            }
            Field::Address if looks_like_address(&texts) => {
                let value = texts.join(" ");
                out.evidence.push(evidence(
                    EntityType::Address,
                    mask(EntityType::Address, &value),
                    weigh(0.7),
                    union(&words),
                    "address:label",
                ));
                out.filled.push(Field::Address);
            }
            Field::BirthDate if looks_like_date(&texts) => out.filled.push(Field::BirthDate),
            Field::DocumentNumber if looks_like_number(&texts) => {
                out.filled.push(Field::DocumentNumber)
            }
            Field::Personal if !texts.is_empty() => out.filled.push(Field::Personal),
            _ => {}
        }
    }
    out
}

/// Document titles on the page: (line, folded title) for each.
fn titles(lines: &[Line<'_>]) -> Vec<(usize, &'static str)> {
    let mut found = Vec::new();
    for (li, line) in lines.iter().enumerate() {
        let compact: String = line.words.iter().map(|w| w.fold.as_str()).collect();
        let hay: Vec<char> = compact.chars().collect();
        for title in DOC_TITLES {
            let needle: Vec<char> = title.chars().collect();
            if hay.len() + 1 < needle.len() {
                continue;
            }
            if substring_distance(&hay, &needle) <= title_tolerance(title) {
                found.push((li, *title));
            }
        }
    }
    found
}

/// An MRZ-shaped line: at least 26 characters of the MRZ alphabet (fillers as OCR reads them),
/// filler runs, and a document-type start, dates, or a SURNAME<<GIVEN name.
pub fn mrz_shaped(text: &str) -> bool {
    // Fillers as OCR reads them; '>' only in a line without '<' (markup has both).
    let arrows = !text.contains('<') && !text.contains('«');
    let norm: String = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '«' | '‹' | '〈' | '＜' | 'く' => '<',
            '>' | '›' | '»' if arrows => '<',
            c => c,
        })
        .collect();
    let n = norm.chars().count();
    if n < 26 || (text.contains('<') && text.contains('>')) {
        return false;
    }
    let alphabet = norm
        .chars()
        .filter(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '<')
        .count();
    let fillers = norm.matches('<').count();
    let alnum = n - fillers;
    if alphabet * 100 < n * 90 || fillers < 3 || alnum < 8 || !norm.contains("<<") {
        return false;
    }
    let b = norm.as_bytes();
    let doc_start = matches!(b.first(), Some(b'P' | b'I' | b'A' | b'C' | b'V'))
        && matches!(b.get(1), Some(c) if c.is_ascii_uppercase() || *c == b'<')
        && b.get(2..5)
            .is_some_and(|c| c.iter().all(|c| c.is_ascii_uppercase() || *c == b'<'));
    let digit_run = norm
        .split(|c: char| !c.is_ascii_digit())
        .any(|run| run.len() >= 6);
    let name_line = norm
        .split("<<")
        .filter(|p| p.len() >= 2 && p.chars().all(|c| c.is_ascii_uppercase() || c == '<'))
        .count()
        >= 2;
    doc_start || digit_run || name_line
}

/// Context cues of one page: names and addresses by their labels, MRZ-shaped zones, and
/// identity documents shown by a title with filled personal fields.
pub fn page_cues(page: &OcrPage) -> Vec<Evidence> {
    let lines = lines(page);
    let fields = labelled_fields(&lines);
    let mut out = fields.evidence;
    let mut mrz_lines: Vec<BoundingBox> = Vec::new();
    for line in &lines {
        let text: String = line
            .words
            .iter()
            .map(|w| w.text)
            .collect::<Vec<_>>()
            .join("");
        if mrz_shaped(&text) {
            mrz_lines.push(line.bbox);
        }
    }
    if let Some(first) = mrz_lines.first() {
        let zone = mrz_lines.iter().skip(1).fold(*first, |acc, b| acc.union(b));
        out.push(evidence(
            EntityType::IdDocument,
            format!("[MRZ-shaped zone, {} line(s)]", mrz_lines.len()),
            DOC_MRZ_SHAPE,
            Some(zone),
            "id_document:mrz_shape",
        ));
    }
    let titles = titles(&lines);
    if let Some((li, title)) = titles.first() {
        let filled: Vec<Field> = fields
            .filled
            .iter()
            .copied()
            .filter(|f| *f != Field::Personal)
            .collect();
        let personal = fields.filled.len();
        // A name, birth date, number or address filled in, or three personal fields.
        let confirmed = !filled.is_empty() || personal >= 3;
        let (conf, note) = if confirmed {
            (DOC_TITLE_AND_FIELDS, "id_document:title+fields")
        } else {
            (DOC_TITLE_ONLY, "id_document:title_only")
        };
        out.push(evidence(
            EntityType::IdDocument,
            format!("[document title: {title}]"),
            conf,
            lines.get(*li).map(|l| l.bbox),
            note,
        ));
    }
    out
}

/// A portrait beside dense text: a face taking a portrait's share of the image, with several
/// text lines to its side (an ID card, a passport page, a badge). Faces come with their scores;
/// `min_face` is the face detector's floor for this cue.
pub fn portrait_cue(
    page: &OcrPage,
    faces: &[(BoundingBox, f32)],
    width: u32,
    height: u32,
    min_face: f32,
) -> Option<Evidence> {
    let lines = lines(page);
    if lines.len() < 4 {
        return None;
    }
    let (w, h) = (f64::from(width.max(1)), f64::from(height.max(1)));
    for (face, score) in faces {
        if *score < min_face {
            continue;
        }
        let fw = f64::from(face.width) / w;
        let fh = f64::from(face.height) / h;
        // A portrait on a document: not a tiny crowd face, not a selfie filling the frame.
        if !(0.04..=0.6).contains(&fw) || !(0.04..=0.7).contains(&fh) {
            continue;
        }
        // Lines beside the face: vertically within its span (widened), horizontally apart.
        let span_top = face.top.saturating_sub(face.height / 2);
        let span_bottom = face.bottom() + face.height;
        let beside = lines
            .iter()
            .filter(|l| l.bbox.bottom() > span_top && l.bbox.top < span_bottom)
            .filter(|l| l.bbox.left >= face.right() || l.bbox.right() <= face.left)
            .filter(|l| {
                l.words
                    .iter()
                    .map(|w| letters(w.text) + w.text.chars().filter(char::is_ascii_digit).count())
                    .sum::<usize>()
                    >= 2
            })
            .count();
        if beside >= 3 {
            return Some(evidence(
                EntityType::IdDocument,
                "[portrait beside text]".to_string(),
                DOC_PORTRAIT * (0.85 + 0.15 * score.clamp(0.0, 1.0)),
                Some(*face),
                "id_document:portrait+text",
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::page::{OcrLine, OcrWord};

    /// A page from (text, left, top) rows; each word 10 px per character, 20 px high.
    fn page(rows: &[(&str, u32, u32)]) -> OcrPage {
        OcrPage {
            lines: rows
                .iter()
                .map(|(text, left, top)| {
                    let mut x = *left;
                    OcrLine {
                        words: text
                            .split(' ')
                            .map(|w| {
                                let width = 10 * w.chars().count() as u32;
                                let word = OcrWord {
                                    text: w.to_string(),
                                    bbox: BoundingBox::new(x, *top, width, 20),
                                    confidence: 0.95,
                                };
                                x += width + 10;
                                word
                            })
                            .collect(),
                    }
                })
                .collect(),
        }
    }

    fn kinds(evidence: &[Evidence]) -> Vec<(String, String)> {
        evidence
            .iter()
            .map(|e| (e.kind.to_string(), e.note.clone().unwrap_or_default()))
            .collect()
    }

    #[test]
    fn labels_in_many_languages_find_names_below_and_beside() {
        let p = page(&[
            ("PASSEPORT PASSPORT", 10, 10),
            ("Nom/Surname", 200, 50),
            ("ERIKSSON", 200, 72),
            ("Prénoms/Given names", 200, 100),
            ("ANNA MARIA", 200, 122),
            ("Date de naissance/Date of birth", 200, 150),
            ("12 AUG 1974", 200, 172),
        ]);
        let ev = page_cues(&p);
        let persons: Vec<_> = ev
            .iter()
            .filter(|e| e.entity_type() == Some(EntityType::Person))
            .collect();
        assert_eq!(persons.len(), 2, "{:?}", kinds(&ev));
        assert_eq!(persons[0].bbox, Some(BoundingBox::new(200, 72, 80, 20)));
        assert!(persons.iter().all(|e| e.confidence.unwrap_or(0.0) >= 0.6));
        let doc = ev
            .iter()
            .find(|e| e.entity_type() == Some(EntityType::IdDocument))
            .expect("document");
        assert_eq!(doc.note.as_deref(), Some("id_document:title+fields"));

        for (label, name) in [
            ("Apellidos:", "GARCÍA LÓPEZ"),
            ("Vorname:", "Jürgen"),
            ("Cognome", "Rossi"),
            ("Nome:", "João Silva"),
            ("성명:", "홍길동"),
            ("氏名", "山田太郎"),
            ("姓名：", "王小明"),
            ("Name:JOHN", "SMITH"),
            ("Apellidos y nombre:", "María de la Paz"),
        ] {
            let p = page(&[(&format!("{label} {name}"), 10, 10)]);
            let ev = page_cues(&p);
            assert!(
                ev.iter()
                    .any(|e| e.entity_type() == Some(EntityType::Person)),
                "{label} {name}: {:?}",
                kinds(&ev)
            );
        }
    }

    #[test]
    fn names_need_a_label_and_a_name_shaped_value() {
        for text in [
            "Product name: Coffee 12",
            "Name of the applicant",
            "The name is not given here",
            "Nombre 2",
            "His father's name was Annius Verus.",
            "<item><name>3002-Kyoto Choco",
        ] {
            let ev = page_cues(&page(&[(text, 10, 10)]));
            assert!(
                !ev.iter()
                    .any(|e| e.entity_type() == Some(EntityType::Person)),
                "{text}: {:?}",
                kinds(&ev)
            );
        }
    }

    #[test]
    fn addresses_by_label() {
        let p = page(&[
            ("Adresse:", 10, 10),
            ("12 rue de la Paix, 75002 Paris", 10, 34),
        ]);
        let ev = page_cues(&p);
        assert!(
            ev.iter()
                .any(|e| e.entity_type() == Some(EntityType::Address)),
            "{:?}",
            kinds(&ev)
        );
        let p = page(&[("주소: 서울특별시 강남구 테헤란로 152", 10, 10)]);
        let ev = page_cues(&p);
        assert!(
            ev.iter()
                .any(|e| e.entity_type() == Some(EntityType::Address)),
            "{:?}",
            kinds(&ev)
        );
    }

    #[test]
    fn titles_alone_are_weak_and_ocr_errors_are_tolerated() {
        let cover = page_cues(&page(&[
            ("RÉPUBLIQUE FRANÇAISE", 10, 10),
            ("PASSEPORT", 10, 40),
        ]));
        let doc = cover
            .iter()
            .find(|e| e.entity_type() == Some(EntityType::IdDocument))
            .expect("title");
        assert_eq!(doc.note.as_deref(), Some("id_document:title_only"));
        assert!(doc.confidence.unwrap_or(1.0) < 0.5);
        // Glued and misread: "REPUBLICOFLATVIAIDENTITYCARD", "Carted'Identite", "AUFENTHALTSTITEL".
        for text in [
            "REPUBLICOFLATVIAIDENTITYCARD",
            "Carted'Identite-Nationalite",
            "AUFENTHALTSTITE1",
            "운전면허증",
            "居民身份证",
        ] {
            let ev = page_cues(&page(&[(text, 10, 10)]));
            assert!(
                ev.iter()
                    .any(|e| e.entity_type() == Some(EntityType::IdDocument)),
                "{text}"
            );
        }
        for text in [
            "Boarding pass",
            "Identity and access management",
            "passing the ball",
        ] {
            let ev = page_cues(&page(&[(text, 10, 10)]));
            assert!(ev.is_empty(), "{text}: {:?}", kinds(&ev));
        }
    }

    #[test]
    fn mrz_shapes_with_wrong_check_digits_still_count() {
        // ICAO's example of wrong check digits, and a TD1 line read with '>' for fillers.
        assert!(mrz_shaped("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<"));
        assert!(mrz_shaped("A2222222<0ASU7108211M04120401000146819<<<<33"));
        assert!(mrz_shaped("I<PER70275722<2<<<<<<<<<<<<<<"));
        assert!(mrz_shaped("SPECIMEN<<SVEN<<<<<<<<<<<<<<<"));
        assert!(!mrz_shaped("<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<"));
        assert!(!mrz_shaped(
            "if (a << 2 < b) { return x <<= 1; } else { y }"
        ));
        assert!(!mrz_shaped("The quick brown fox jumps over the lazy dog"));
        assert!(!mrz_shaped(
            "<vqa><question>what is the price of choco mochi?"
        ));
        assert!(!mrz_shaped("<VQA><QUESTION>WHATISTHEPRICE<ITEM><NAME>"));
        assert!(mrz_shaped(">>>>>>>>>>>>>>>0>>>2906200>>>>>>>>"));
        let ev = page_cues(&page(&[(
            "A2222222<0ASU7108211M04120401000146819<<<<33",
            10,
            10,
        )]));
        assert_eq!(
            kinds(&ev),
            [(
                "ID_DOCUMENT".to_string(),
                "id_document:mrz_shape".to_string()
            )]
        );
    }

    #[test]
    fn portrait_beside_text() {
        let p = page(&[
            ("SURNAME", 200, 40),
            ("DOE", 200, 62),
            ("GIVEN NAMES", 200, 90),
            ("JANE", 200, 112),
            ("12 MAR 1980", 200, 140),
        ]);
        let face = (BoundingBox::new(20, 40, 150, 180), 0.9);
        let ev = portrait_cue(&p, &[face], 600, 400, 0.5).expect("portrait");
        assert_eq!(ev.entity_type(), Some(EntityType::IdDocument));
        // A face filling the frame (a selfie) is no portrait on a document.
        assert!(portrait_cue(
            &p,
            &[(BoundingBox::new(0, 0, 580, 390), 0.9)],
            600,
            400,
            0.5
        )
        .is_none());
        // Too little text.
        assert!(portrait_cue(&page(&[("HELLO", 200, 40)]), &[face], 600, 400, 0.5).is_none());
    }
}
