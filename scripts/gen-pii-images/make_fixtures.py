#!/usr/bin/env python3
"""Writes the small synthetic fixtures in tests/fixtures/pii (run from the repo root)."""
import os
import struct
import zlib

from PIL import Image, ImageDraw, ImageFont

OUT = "tests/fixtures/pii"


def crc(b):
    return struct.pack(">I", zlib.crc32(b) & 0xFFFFFFFF)


def main():
    os.makedirs(OUT, exist_ok=True)
    p = lambda name: os.path.join(OUT, name)  # noqa: E731
    # A valid 1x1 PNG whose IHDR claims 100000 x 100000 pixels: a decompression-bomb header.
    ihdr = b"IHDR" + struct.pack(">IIBBBBB", 100000, 100000, 8, 0, 0, 0, 0)
    idat = b"IDAT" + zlib.compress(b"\x00\x00")
    png = (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + ihdr + crc(ihdr)
           + struct.pack(">I", len(idat) - 4) + idat + crc(idat)
           + struct.pack(">I", 0) + b"IEND" + crc(b"IEND"))
    open(p("bomb_header_100000x100000.png"), "wb").write(png)
    open(p("empty.png"), "wb").write(b"")
    open(p("not_an_image.pdf"), "wb").write(
        b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 26)

    def card(lines, name):
        im = Image.new("L", (640, 60 + 46 * len(lines)), 255)
        d = ImageDraw.Draw(im)
        for i, line in enumerate(lines):
            d.text((30, 30 + 46 * i), line, font=font, fill=0)
        im.save(p(name), optimize=True)

    # Synthetic values only: the Visa test number and a made-up RRN with a valid check digit.
    card(["Corner Cafe", "Card No: 4111 1111 1111 1111", "Resident No: 900101-1234568"],
         "synthetic_card_rrn.png")
    card(["Corner Cafe", "Coffee 2 x 4500", "Card: **** **** **** 1111", "Total: $9.00"],
         "synthetic_no_pii_receipt.png")
    open(p("truncated.png"), "wb").write(open(p("synthetic_card_rrn.png"), "rb").read()[:200])
    odd_formats()


def odd_formats():
    """Formats the image crate sees less often: CMYK JPEG, animated WebP, a HEIC header."""
    p = lambda name: os.path.join(OUT, name)  # noqa: E731
    card = Image.open(p("synthetic_card_rrn.png")).convert("RGB")
    # Adobe CMYK JPEG (as print workflows and some scanners write them).
    card.convert("CMYK").save(p("synthetic_card_cmyk.jpg"), quality=90)
    # Animated WebP: the card, then a blank frame (the detector reads the first frame).
    blank = Image.new("RGB", card.size, (255, 255, 255))
    card.save(p("animated_card_first.webp"), save_all=True, append_images=[blank],
              duration=500, loop=0, lossless=True)
    # The start of a HEIC file (ISO BMFF `ftyp` box, brand heic): not decodable here.
    open(p("header_only.heic"), "wb").write(
        struct.pack(">I", 24) + b"ftypheic" + struct.pack(">I", 0) + b"mif1heic")


if __name__ == "__main__":
    main()
