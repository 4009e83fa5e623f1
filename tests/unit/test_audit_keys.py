"""`metagate keys init` / `export-public`: a private key only the owner can read, never overwritten."""

import os
import stat

from cryptography.hazmat.primitives import serialization
from metagate.proxy.cli import main
from metagate.reports.keys import load_signing_key, signing_key_path


def test_init_makes_a_private_key_and_prints_its_public_half(tmp_path, capsys):
    assert main(["keys", "init", "--data-dir", str(tmp_path)]) == 0
    path = signing_key_path(tmp_path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    out = capsys.readouterr().out
    public = load_signing_key(tmp_path).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    assert public in out and "PRIVATE" not in out


def test_init_refuses_to_overwrite_an_existing_key(tmp_path, capsys):
    assert main(["keys", "init", "--data-dir", str(tmp_path)]) == 0
    before = signing_key_path(tmp_path).read_bytes()
    capsys.readouterr()
    assert main(["keys", "init", "--data-dir", str(tmp_path)]) == 1
    assert "refusing to overwrite" in capsys.readouterr().err
    assert signing_key_path(tmp_path).read_bytes() == before


def test_export_public_prints_the_pem_public_key(tmp_path, capsys):
    main(["keys", "init", "--data-dir", str(tmp_path)])
    capsys.readouterr()
    assert main(["keys", "export-public", "--data-dir", str(tmp_path)]) == 0
    pem = capsys.readouterr().out.encode()
    key = serialization.load_pem_public_key(pem)
    assert key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw) == \
        load_signing_key(tmp_path).public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def test_export_public_without_a_key_says_how_to_make_one(tmp_path, capsys):
    assert main(["keys", "export-public", "--data-dir", str(tmp_path)]) == 1
    assert "metagate keys init" in capsys.readouterr().err
