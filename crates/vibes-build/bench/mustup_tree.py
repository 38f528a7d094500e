#!/usr/bin/env python3
"""Generates a mustup tree of the shape of the collection the format comes from (kalrish/music,
2022): 128 albums of 2,079 WAVE tracks in all, 126 front covers, mustup-metadata.yaml at the root,
per artist and per album, a mustup-manifest.yaml per album, 5 playlists, and the two output
variants' tup.config files. Tracks are short sines, each a byte apart so no two are equal.
Usage: mustup_tree.py DIR [TRACKS=2079] [ALBUMS=128] [SECONDS=1]"""
import math
import os
import struct
import sys

root = sys.argv[1]
tracks = int(sys.argv[2]) if len(sys.argv) > 2 else 2079
albums = int(sys.argv[3]) if len(sys.argv) > 3 else 128
secs = float(sys.argv[4]) if len(sys.argv) > 4 else 1.0

n = int(44100 * secs)
pcm = b"".join(struct.pack("<hh", v, v) for v in (int(8000 * math.sin(2 * math.pi * 440 * i / 44100)) for i in range(n)))
header = b"RIFF" + struct.pack("<I", 36 + len(pcm)) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 2, 44100, 176400, 4, 16) + b"data" + struct.pack("<I", len(pcm))
# A baseline 8x8 grey JPEG (as in the tests' common helpers).
jpeg = bytes([0xFF, 0xD8, 0xFF, 0xDB, 0x00, 0x43, 0x00]) + bytes([1] * 64) + bytes([0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x00, 0x08, 0x00, 0x08, 0x01, 0x01, 0x11, 0x00])
for cls in (0x00, 0x10):
    jpeg += bytes([0xFF, 0xC4, 0x00, 0x14, cls, 0x01]) + bytes(15) + bytes([0x00])
jpeg += bytes([0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00, 0x3F, 0xFF, 0xD9])


def write(rel, data):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


write("mustup-metadata.yaml", "---\n\ntags:\n   Vorbis:\n      COMMENT: generated\n")
write("output-home/tup.config", "CONFIG_ENCODER=flac\nCONFIG_FLAC=flac\nCONFIG_FLAC_FLAGS=--best\n")
write("output-honor10/tup.config", "CONFIG_ENCODER=oggenc\nCONFIG_OGGENC=oggenc\nCONFIG_OGGENC_FLAGS=--quality 5 --resample 44100\n")
write("utils/README", "helper scripts\n")
per, extra = divmod(tracks, albums)
serial = 0
all_tracks = []
for a in range(albums):
    artist, album = f"artist{a // 4:02d}", f"album{a % 4}"
    d = f"{artist}/{album}"
    if a % 4 == 0:
        write(f"{artist}/mustup-metadata.yaml", f"---\n\ntags:\n   common:\n      artist: Künstler {a // 4}\n")
    meta = f"---\n\ntags:\n   common:\n      album: Album {a}\n   Vorbis:\n      DATE: '{1970 + a % 50}'\n      GENRE:\n         - Rock\n         - Pop\n"
    if a < albums - 2:
        write(f"{d}/cover-front.jpeg", jpeg)
        meta += "\npictures:\n   APIC:\n      3:\n         path: cover-front.jpeg\n"
    write(f"{d}/mustup-metadata.yaml", meta)
    manifest = "---\n"
    for t in range(1, per + (1 if a < extra else 0) + 1):
        serial += 1
        name = f"{t:02d}-track_{t}"
        write(f"{d}/{name}.wave", header + pcm[:-4] + struct.pack("<I", serial))
        manifest += f"\n{name}.wave:\n   metadata:\n      tags:\n         common:\n            title: Track {t} of album {a}\n"
        all_tracks.append(f"{d}/{name}")
    write(f"{d}/mustup-manifest.yaml", manifest)
for p in range(5):
    chosen = all_tracks[p::97][:20]
    write(f"list{p}.pl.yaml", f"---\n\ntitle: List {p}\n\ntracks:\n" + "".join(f"   - {t}\n" for t in chosen))
print(f"{serial} tracks in {albums} albums under {root}")
