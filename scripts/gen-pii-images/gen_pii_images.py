#!/usr/bin/env python3
"""Renders a labelled set of synthetic images with and without PII for TrailGuard's offline
PII detector: documents, receipts, ID-card-like layouts, passports with MRZ, and photos with text,
in English and Korean, with varied fonts, sizes, rotations and noise.

Every value is synthetic and generated here with valid checksums (Luhn, RRN, MRZ, IBAN):
no real person's data. Deterministic for a given --seed and --count.

Usage: gen_pii_images.py --out DIR [--count 240] [--seed 7]
Writes DIR/images/*.png|jpg and DIR/labels.json:
  {"version": 1, "seed": S, "images": [{"file", "contains_pii", "category", "lang", "clean",
    "entities": [{"entity_type", "box": [left, top, width, height], "text"}]}]}

Needs Pillow and the Debian fonts fonts-dejavu-core, fonts-liberation2 and fonts-nanum.
"""

import argparse
import io
import json
import math
import os
import random
import sys

from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_DIRS = ["/usr/share/fonts/truetype"]
EN_FONTS = [
    "dejavu/DejaVuSans.ttf",
    "dejavu/DejaVuSerif.ttf",
    "dejavu/DejaVuSans-Bold.ttf",
    "dejavu/DejaVuSansCondensed.ttf",
    "liberation2/LiberationSans-Regular.ttf",
    "liberation2/LiberationSerif-Regular.ttf",
    "liberation2/LiberationMono-Regular.ttf",
    "nanum/NanumGothic.ttf",
]
KO_FONTS = [
    "nanum/NanumGothic.ttf",
    "nanum/NanumGothicBold.ttf",
    "nanum/NanumBarunGothic.ttf",
    "nanum/NanumMyeongjo.ttf",
]
MONO_FONTS = ["dejavu/DejaVuSansMono.ttf", "liberation2/LiberationMono-Regular.ttf"]

FIRST_EN = ["James", "Mary", "Robert", "Patricia", "Michael", "Linda", "David", "Susan", "Daniel",
            "Karen", "Thomas", "Nancy", "Steven", "Laura", "Kevin", "Emily", "Brian", "Rachel"]
LAST_EN = ["Walker", "Harper", "Bennett", "Collins", "Foster", "Hayes", "Morgan", "Reed", "Sutton",
           "Turner", "Ward", "Palmer", "Lawson", "Porter"]
SUR_KO = ["김", "이", "박", "최", "정", "강", "조", "윤", "장", "임", "한", "오"]
GIVEN_KO = ["민준", "서연", "도윤", "지우", "하준", "서윤", "시우", "하은", "지호", "수아", "예준", "지민"]
ROMAN_SUR = {"김": "KIM", "이": "LEE", "박": "PARK", "최": "CHOI", "정": "JUNG", "강": "KANG",
             "조": "CHO", "윤": "YOON", "장": "JANG", "임": "LIM", "한": "HAN", "오": "OH"}
ROMAN_GIVEN = {"민준": "MINJUN", "서연": "SEOYEON", "도윤": "DOYUN", "지우": "JIWOO", "하준": "HAJUN",
               "서윤": "SEOYUN", "시우": "SIWOO", "하은": "HAEUN", "지호": "JIHO", "수아": "SUA",
               "예준": "YEJUN", "지민": "JIMIN"}

EN_FILLER = [
    "Thank you for your visit. Please keep this document for your records.",
    "The meeting is scheduled for next Tuesday in room 4B.",
    "All prices include applicable taxes unless stated otherwise.",
    "This form must be completed and returned within 30 days.",
    "Shipping usually takes three to five business days.",
    "For questions about this statement contact customer service.",
    "Quarterly results exceeded expectations across all regions.",
    "Please read the terms and conditions carefully before signing.",
]
KO_FILLER = [
    "방문해 주셔서 감사합니다. 이 문서를 보관해 주세요.",
    "회의는 다음 주 화요일 4층 회의실에서 진행됩니다.",
    "모든 가격에는 부가가치세가 포함되어 있습니다.",
    "이 양식은 30일 이내에 작성하여 제출해야 합니다.",
    "배송은 영업일 기준 3일에서 5일 정도 소요됩니다.",
    "자세한 내용은 고객센터로 문의하시기 바랍니다.",
    "분기 실적이 모든 지역에서 예상을 넘었습니다.",
]


def font_path(rel):
    for d in FONT_DIRS:
        p = os.path.join(d, rel)
        if os.path.exists(p):
            return p
    sys.exit(f"missing font {rel}: install Debian fonts-dejavu-core fonts-liberation2 fonts-nanum")


class Values:
    """Synthetic PII values with valid checksums."""

    def __init__(self, rng):
        self.r = rng

    def digits(self, n):
        return "".join(str(self.r.randint(0, 9)) for _ in range(n))

    @staticmethod
    def luhn_digit(body):
        total = 0
        for i, ch in enumerate(reversed(body)):
            d = int(ch)
            if i % 2 == 0:
                d *= 2
                if d > 9:
                    d -= 9
            total += d
        return str((10 - total % 10) % 10)

    def card(self):
        kind = self.r.choice(["visa", "mc", "amex", "visa"])
        if kind == "amex":
            body = self.r.choice(["34", "37"]) + self.digits(12)
            num = body + self.luhn_digit(body)
            return f"{num[:4]} {num[4:10]} {num[10:]}"
        prefix = "4" if kind == "visa" else str(self.r.randint(51, 55))
        body = prefix + self.digits(15 - len(prefix))
        num = body + self.luhn_digit(body)
        sep = self.r.choice([" ", "-"])
        return sep.join(num[i:i + 4] for i in range(0, 16, 4))

    def luhn_invalid_16(self):
        body = self.digits(15)
        bad = str((int(self.luhn_digit(body)) + self.r.randint(1, 9)) % 10)
        num = body + bad
        return " ".join(num[i:i + 4] for i in range(0, 16, 4))

    def rrn(self):
        year = self.r.randint(1950, 2015)
        month = self.r.randint(1, 12)
        day = self.r.randint(1, 28)
        gender = self.r.choice([1, 2]) if year < 2000 else self.r.choice([3, 4])
        first12 = f"{year % 100:02d}{month:02d}{day:02d}{gender}{self.digits(5)}"
        weights = [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5]
        s = sum(int(a) * w for a, w in zip(first12, weights))
        check = (11 - s % 11) % 10
        if self.r.random() < 0.15:  # post-2020 style: no valid check digit
            check = (check + self.r.randint(1, 9)) % 10
        num = first12 + str(check)
        return f"{num[:6]}-{num[6:]}"

    def kr_mobile(self):
        return f"010-{self.r.randint(2000, 9999)}-{self.r.randint(0, 9999):04d}"

    def kr_landline(self):
        area = self.r.choice(["02", "031", "051", "032", "042"])
        return f"{area}-{self.r.randint(200, 999)}-{self.r.randint(0, 9999):04d}"

    def us_phone(self):
        return f"({self.r.randint(201, 989)}) {self.r.randint(201, 989)}-{self.r.randint(0, 9999):04d}"

    def intl_phone(self):
        return f"+82 10 {self.r.randint(2000, 9999)} {self.r.randint(0, 9999):04d}"

    def email(self, first, last):
        dom = self.r.choice(["example.com", "example.org", "mail.test", "corp.example.net"])
        return f"{first.lower()}.{last.lower()}{self.r.randint(1, 99)}@{dom}"

    def ssn(self):
        area = self.r.randint(1, 899)
        while area == 666:
            area = self.r.randint(1, 899)
        return f"{area:03d}-{self.r.randint(1, 99):02d}-{self.r.randint(1, 9999):04d}"

    def iban(self):
        if self.r.random() < 0.5:
            country, bban = "GB", "WEST" + self.digits(14)
        else:
            country, bban = "DE", self.digits(18)
        moved = bban + country + "00"
        num = int("".join(str(int(c, 36)) for c in moved))
        check = 98 - num % 97
        iban = f"{country}{check:02d}{bban}"
        return " ".join(iban[i:i + 4] for i in range(0, len(iban), 4))

    def kr_passport(self):
        if self.r.random() < 0.6:
            return "M" + self.digits(8)
        return f"M{self.digits(3)}{chr(65 + self.r.randint(0, 25))}{self.digits(4)}"

    def kr_license(self):
        region = self.r.choice(["11", "12", "13", "14", "21", "23", "26", "28"])
        return f"{region}-{self.r.randint(0, 99):02d}-{self.digits(6)}-{self.digits(2)}"

    def ipv4(self):
        return f"{self.r.choice(['203.0.113', '198.51.100', '192.0.2'])}.{self.r.randint(1, 254)}"

    @staticmethod
    def mrz_check(field):
        values = {**{str(i): i for i in range(10)}, "<": 0}
        values.update({chr(65 + i): 10 + i for i in range(26)})
        weights = [7, 3, 1]
        return str(sum(values[c] * weights[i % 3] for i, c in enumerate(field)) % 10)

    def mrz_td3(self, sur, given):
        line1 = f"P<KOR{sur}<<{given}".ljust(44, "<")[:44]
        doc = "M" + self.digits(8)
        dob = f"{self.r.randint(50, 99):02d}{self.r.randint(1, 12):02d}{self.r.randint(1, 28):02d}"
        exp = f"{self.r.randint(26, 35):02d}{self.r.randint(1, 12):02d}{self.r.randint(1, 28):02d}"
        sex = self.r.choice("MF")
        personal = "<" * 14
        line2 = (doc + self.mrz_check(doc) + "KOR" + dob + self.mrz_check(dob) + sex + exp
                 + self.mrz_check(exp) + personal + self.mrz_check(personal))
        composite = line2[0:10] + line2[13:20] + line2[21:43]
        return line1, line2 + self.mrz_check(composite)


class Canvas:
    def __init__(self, w, h, bg=(255, 255, 255)):
        self.img = Image.new("RGB", (w, h), bg)
        self.draw = ImageDraw.Draw(self.img)
        self.entities = []

    def text(self, xy, s, font, fill=(20, 20, 20), entity=None):
        self.draw.text(xy, s, font=font, fill=fill)
        box = self.draw.textbbox(xy, s, font=font)
        if entity:
            self.entities.append({"entity_type": entity, "box": [box[0], box[1], box[2] - box[0],
                                                                 box[3] - box[1]], "text": s})
        return box

    def field(self, x, y, label, value, font, entity=None, gap=12):
        box = self.text((x, y), label, font)
        return self.text((box[2] + gap, y), value, font, entity=entity)


def pick_font(rng, lang, size, mono=False):
    if mono:
        return ImageFont.truetype(font_path(rng.choice(MONO_FONTS)), size)
    pool = KO_FONTS if lang == "ko" else EN_FONTS
    return ImageFont.truetype(font_path(rng.choice(pool)), size)


def person(rng, lang):
    if lang == "ko":
        sur, given = rng.choice(SUR_KO), rng.choice(GIVEN_KO)
        return sur + given, ROMAN_SUR[sur], ROMAN_GIVEN[given]
    first, last = rng.choice(FIRST_EN), rng.choice(LAST_EN)
    return f"{first} {last}", last.upper(), first.upper()


CRITICAL = ("CREDIT_CARD", "KR_RRN")


def pii_fields(rng, v, lang, k, force_critical=False):
    """k labelled (label, value, entity_type) fields with PII (one card or RRN if forced)."""
    name, _, _ = person(rng, lang)
    first = name.split()[0] if lang == "en" else "user"
    last = name.split()[-1] if lang == "en" else "kim"
    if lang == "ko":
        pool = [("성명:", name, "PERSON"), ("주민등록번호:", v.rrn(), "KR_RRN"),
                ("휴대폰:", v.kr_mobile(), "PHONE_NUMBER"), ("전화:", v.kr_landline(), "PHONE_NUMBER"),
                ("카드번호:", v.card(), "CREDIT_CARD"), ("이메일:", v.email(first, last), "EMAIL_ADDRESS"),
                ("여권번호:", v.kr_passport(), "KR_PASSPORT"), ("운전면허번호:", v.kr_license(), "KR_DRIVER_LICENSE"),
                ("연락처:", v.intl_phone(), "PHONE_NUMBER"), ("접속 IP:", v.ipv4(), "IP_ADDRESS")]
    else:
        pool = [("Name:", name, "PERSON"), ("Phone:", v.us_phone(), "PHONE_NUMBER"),
                ("Card No:", v.card(), "CREDIT_CARD"), ("Email:", v.email(first, last), "EMAIL_ADDRESS"),
                ("SSN:", v.ssn(), "US_SSN"), ("IBAN:", v.iban(), "IBAN"),
                ("Mobile:", v.intl_phone(), "PHONE_NUMBER"), ("Client IP:", v.ipv4(), "IP_ADDRESS"),
                ("Resident No:", v.rrn(), "KR_RRN")]
    if force_critical:
        critical = [f for f in pool if f[2] in CRITICAL]
        first = rng.choice(critical)
        rest = [f for f in pool if f is not first]
        return [first] + rng.sample(rest, k - 1)
    return rng.sample(pool, k)


def decoy_fields(rng, v, lang, k):
    """Fields that look like numbers but are not PII."""
    if lang == "ko":
        pool = [("주문번호:", f"{rng.randint(2020, 2025)}{v.digits(8)}"), ("사업자등록번호:", f"{v.digits(3)}-{v.digits(2)}-{v.digits(5)}"),
                ("고객센터:", f"1588-{v.digits(4)}"), ("결제금액:", f"{rng.randint(1, 300)},{rng.randint(0, 999):03d}원"),
                ("거래일시:", f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}"),
                ("승인번호:", v.digits(8)), ("카드번호:", f"**** **** **** {v.digits(4)}"),
                ("상품코드:", f"SKU-{v.digits(6)}"), ("포인트:", f"{rng.randint(0, 9999)}P")]
    else:
        pool = [("Invoice:", f"INV-{rng.randint(2020, 2025)}-{v.digits(6)}"), ("Order:", v.luhn_invalid_16()),
                ("Date:", f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"), ("Total:", f"${rng.randint(1, 500)}.{v.digits(2)}"),
                ("Card:", f"**** **** **** {v.digits(4)}"), ("Product name:", rng.choice(["Americano", "Desk Lamp", "Notebook"])),
                ("Version:", f"v{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}"),
                ("Auth code:", v.digits(6)), ("Store No:", v.digits(5)), ("Time:", f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}")]
    return [(a, b, None) for a, b in rng.sample(pool, k)]


FORCE_CRITICAL = False


def layout_document(rng, v, lang, has_pii, size):
    w, h = rng.randint(1000, 1300), rng.randint(1200, 1500)
    c = Canvas(w, h)
    title_font = pick_font(rng, lang, size + 12)
    body = pick_font(rng, lang, size)
    title = rng.choice(["신청서", "고객 정보 확인서", "거래 명세서"] if lang == "ko" else
                       ["Application Form", "Customer Statement", "Account Summary"])
    c.text((60, 50), title, title_font)
    y = 50 + size * 3
    fields = decoy_fields(rng, v, lang, 3)
    if has_pii:
        fields += pii_fields(rng, v, lang, rng.randint(1, 3), FORCE_CRITICAL)
    rng.shuffle(fields)
    filler = KO_FILLER if lang == "ko" else EN_FILLER
    for label, value, ent in fields:
        if rng.random() < 0.4:
            c.text((60, y), rng.choice(filler), body)
            y += int(size * 1.8)
        c.field(60, y, label, value, body, entity=ent)
        y += int(size * 1.8)
    for _ in range(rng.randint(2, 5)):
        if y > h - 2 * size:
            break
        c.text((60, y), rng.choice(filler), body)
        y += int(size * 1.8)
    return c


def layout_receipt(rng, v, lang, has_pii, size):
    size = max(16, size - 4)
    w, h = rng.randint(480, 640), rng.randint(900, 1200)
    c = Canvas(w, h, (250, 248, 240))
    f = pick_font(rng, lang, size)
    store = rng.choice(["행복마트 강남점", "카페 온도", "서울 편의점"] if lang == "ko" else
                       ["Green Grocer", "Corner Cafe", "City Hardware"])
    c.text((30, 30), store, pick_font(rng, lang, size + 6))
    y = 30 + size * 3
    items = (["아메리카노", "샌드위치", "생수", "우유"] if lang == "ko" else ["Coffee", "Bagel", "Water", "Milk"])
    for item in rng.sample(items, 3):
        c.text((30, y), f"{item}  {rng.randint(1, 9)} x {rng.randint(1, 20) * 500}", f)
        y += int(size * 1.6)
    fields = decoy_fields(rng, v, lang, 3)
    if has_pii:
        pool = pii_fields(rng, v, lang, 6)
        fields += [fld for fld in pool if fld[2] in ("CREDIT_CARD", "PHONE_NUMBER", "PERSON", "EMAIL_ADDRESS")][:2]
    rng.shuffle(fields)
    for label, value, ent in fields:
        c.field(30, y, label, value, f, entity=ent, gap=8)
        y += int(size * 1.6)
    return c


def layout_id_card(rng, v, lang, has_pii, size):
    w, h = 856 + rng.randint(0, 200), 540 + rng.randint(0, 120)
    bg = rng.choice([(232, 240, 250), (245, 240, 225), (230, 245, 235)])
    c = Canvas(w, h, bg)
    c.draw.rectangle([w - 260, 90, w - 60, 330], fill=(200, 200, 205), outline=(120, 120, 120))
    f = pick_font(rng, lang, max(20, size))
    if lang == "ko":
        kind = rng.choice(["주민등록증", "운전면허증", "회원증"])
    else:
        kind = rng.choice(["IDENTITY CARD", "MEMBER CARD", "EMPLOYEE ID"])
    c.text((40, 30), kind, pick_font(rng, lang, size + 10))
    y = 110
    name, _, _ = person(rng, lang)
    if has_pii:
        if lang == "ko":
            fields = [("성명", name, "PERSON")]
            if kind == "운전면허증":
                fields.append(("면허번호", v.kr_license(), "KR_DRIVER_LICENSE"))
            fields.append(("주민등록번호", v.rrn(), "KR_RRN"))
        else:
            fields = [("Name:", name, "PERSON"), ("SSN:", v.ssn(), "US_SSN")] if rng.random() < 0.5 else \
                     [("Name:", name, "PERSON"), ("Resident No:", v.rrn(), "KR_RRN")]
    else:
        fields = ([("등급", rng.choice(["골드", "실버"]), None), ("유효기간", f"2027-{rng.randint(1, 12):02d}-01", None),
                   ("회원번호", f"M-{v.digits(6)}", None)] if lang == "ko" else
                  [("Level:", rng.choice(["Gold", "Silver"]), None), ("Valid thru:", f"{rng.randint(1, 12):02d}/29", None),
                   ("Member No:", f"MB-{v.digits(6)}", None)])
    for label, value, ent in fields:
        c.field(40, y, label, value, f, entity=ent, gap=16)
        y += int(max(20, size) * 2.0)
    return c


def layout_passport(rng, v, lang, has_pii, size):
    w, h = 1100 + rng.randint(0, 150), 760 + rng.randint(0, 80)
    c = Canvas(w, h, (238, 236, 246))
    c.draw.rectangle([50, 120, 330, 480], fill=(205, 205, 210))
    f = pick_font(rng, "ko", 24)
    c.text((50, 40), "여권 PASSPORT" if lang == "ko" else "PASSPORT", pick_font(rng, "ko", 36))
    name_ko, sur, given = person(rng, "ko")
    if has_pii:
        l1, l2 = v.mrz_td3(sur, given)
        c.field(380, 140, "Surname", sur, f, entity="PERSON")
        c.field(380, 200, "Given names", given, f, entity="PERSON")
        c.field(380, 260, "여권번호 Passport No.", l2[:9], f, entity="KR_PASSPORT")
        mono = pick_font(rng, "en", 30, mono=True)
        c.text((50, h - 150), l1, mono, entity="MRZ")
        c.text((50, h - 95), l2, mono, entity="MRZ")
    else:
        c.field(380, 140, "Type", "SPECIMEN", f)
        c.field(380, 200, "Issuing office", "Seoul", f)
        c.text((50, h - 150), "VOID - SAMPLE PAGE", pick_font(rng, "en", 30, mono=True))
    return c


def textured_background(rng, w, h):
    img = Image.new("RGB", (w, h))
    base = [rng.randint(60, 200) for _ in range(3)]
    d = ImageDraw.Draw(img)
    for y in range(0, h, 4):
        shade = int(30 * math.sin(y / rng.randint(30, 90)))
        d.rectangle([0, y, w, y + 4], fill=tuple(max(0, min(255, b + shade)) for b in base))
    for _ in range(rng.randint(20, 60)):
        x, y = rng.randint(0, w), rng.randint(0, h)
        r = rng.randint(10, 120)
        col = tuple(rng.randint(0, 255) for _ in range(3))
        d.ellipse([x - r, y - r, x + r, y + r], fill=col)
    return img.filter(ImageFilter.GaussianBlur(3))


def layout_photo(rng, v, lang, has_pii, size):
    w, h = rng.choice([(1280, 960), (1200, 900), (1024, 768)])
    c = Canvas(w, h)
    c.img = textured_background(rng, w, h)
    c.draw = ImageDraw.Draw(c.img)
    # A note or sign with text on it.
    nw, nh = rng.randint(560, 760), rng.randint(300, 420)
    x0, y0 = rng.randint(20, w - nw - 20), rng.randint(20, h - nh - 20)
    c.draw.rectangle([x0, y0, x0 + nw, y0 + nh], fill=rng.choice([(255, 250, 200), (250, 250, 250), (220, 240, 255)]))
    f = pick_font(rng, lang, max(22, size))
    y = y0 + 20
    fields = decoy_fields(rng, v, lang, 2)
    if has_pii:
        fields += pii_fields(rng, v, lang, rng.randint(1, 2))
    rng.shuffle(fields)
    for label, value, ent in fields:
        if y > y0 + nh - 40:
            break
        c.field(x0 + 20, y, label, value, f, entity=ent, gap=10)
        y += int(max(22, size) * 1.8)
    return c


LAYOUTS = [("document", layout_document, 3), ("receipt", layout_receipt, 2),
           ("id_card", layout_id_card, 2), ("passport", layout_passport, 1), ("photo", layout_photo, 2)]


def rotate_boxes(entities, angle, w, h, nw, nh):
    rad = math.radians(angle)
    cos, sin = math.cos(rad), math.sin(rad)
    cx, cy, ncx, ncy = w / 2, h / 2, nw / 2, nh / 2
    for e in entities:
        l, t, bw, bh = e["box"]
        pts = []
        for x, y in [(l, t), (l + bw, t), (l, t + bh), (l + bw, t + bh)]:
            dx, dy = x - cx, y - cy
            # PIL rotates counter-clockwise for positive angles (y axis down).
            pts.append((ncx + dx * cos + dy * sin, ncy - dx * sin + dy * cos))
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        e["box"] = [int(min(xs)), int(min(ys)), int(max(xs) - min(xs)), int(max(ys) - min(ys))]


def degrade(rng, c, clean, category):
    img = c.img
    if clean:
        return img, "png"
    angle = rng.uniform(-7, 7) if category != "passport" else rng.uniform(-3, 3)
    w, h = img.size
    fill = img.getpixel((2, 2))
    img = img.rotate(angle, resample=Image.BICUBIC, expand=True, fillcolor=fill)
    rotate_boxes(c.entities, angle, w, h, img.size[0], img.size[1])
    if rng.random() < 0.5:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0)))
    if rng.random() < 0.6:
        noise = Image.effect_noise(img.size, rng.uniform(8, 30)).convert("RGB")
        img = Image.blend(img, noise, rng.uniform(0.05, 0.15))
    if rng.random() < 0.4:
        # Uneven lighting: a dark gradient from one side.
        grad = Image.linear_gradient("L").resize(img.size).rotate(rng.choice([0, 90, 180, 270]))
        dark = Image.new("RGB", img.size, (0, 0, 0))
        img = Image.composite(dark, img, grad.point(lambda p: int(p * 0.35)))
    return img, "jpg" if rng.random() < 0.6 else "png"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--count", type=int, default=240)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--profile", choices=["mixed", "clean-critical"], default="mixed",
                    help="clean-critical: clean scans that all hold a card, resident number or MRZ")
    args = ap.parse_args()
    global FORCE_CRITICAL
    FORCE_CRITICAL = args.profile == "clean-critical"
    rng = random.Random(args.seed)
    v = Values(rng)
    os.makedirs(os.path.join(args.out, "images"), exist_ok=True)
    weights = [w for _, _, w in LAYOUTS]
    labels = []
    for i in range(args.count):
        category, fn, _ = rng.choices(LAYOUTS, weights=weights)[0]
        lang = rng.choice(["en", "ko"])
        has_pii = rng.random() < 0.55
        clean = rng.random() < 0.4 and category != "photo"
        if FORCE_CRITICAL:
            category, fn = rng.choice([("document", layout_document), ("passport", layout_passport)])
            has_pii, clean = True, True
        size = rng.choice([20, 22, 24, 28, 32]) if clean else rng.choice([16, 18, 20, 24, 28, 32])
        c = fn(rng, v, lang, has_pii, size)
        img, ext = degrade(rng, c, clean, category)
        name = f"{i:04d}_{category}_{lang}.{ext}"
        path = os.path.join(args.out, "images", name)
        if ext == "jpg":
            img.save(path, quality=rng.randint(55, 90))
        else:
            img.save(path)
        labels.append({"file": f"images/{name}", "contains_pii": bool(c.entities), "category": category,
                       "lang": lang, "clean": clean, "entities": c.entities})
    with open(os.path.join(args.out, "labels.json"), "w", encoding="utf-8") as fh:
        json.dump({"version": 1, "seed": args.seed, "count": args.count, "images": labels}, fh,
                  ensure_ascii=False, indent=1)
    pos = sum(1 for l in labels if l["contains_pii"])
    print(f"wrote {len(labels)} images ({pos} with PII) to {args.out}")


if __name__ == "__main__":
    main()
