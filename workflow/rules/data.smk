# The study's data, read-only: the synthetic demo in its own folder, or the user's raw folder,
# annotations and linkage key, which no rule declares as output. Rules see the user's data only
# through pseudonymous links under linkage.dir, so no raw path or name reaches a command line, a
# log or Snakemake's records. Configs that could overwrite it or expose the linkage are refused.
import hashlib
import stat

DEMO = "demo"  # the demo's own folder, made by the simulate rule: raw/ and its public key.hex
DEMO_RAW = f"{DEMO}/raw"
DEMO_ANNOTATIONS = f"{DEMO_RAW}/annotations.csv"
DEMO_KEY = f"{DEMO}/key.hex"
SIMULATE = config["simulate"]["enabled"]
OUTPUT_FOLDERS = ["results", "logs", "benchmarks/out", ".snakemake", DEMO]
LINKAGE = config["linkage"]["dir"]
KEY = DEMO_KEY if SIMULATE else config["linkage"]["key"]
RAW = config["raw_dir"]
RAW_ANNOTATIONS = config["annotations"]
RAW_LINK = f"{LINKAGE}/source/raw_dir"  # -> raw_dir (real data only)
ANNOTATIONS_LINK = (
    f"{LINKAGE}/source/annotations.csv"  # -> annotations (real data only)
)
# source.coco_json (paths from the working folder), seen by the rules as links numbered from 1
# in the configured order, like the raw folder: a folder named after a patient or hospital
# stays out of command lines, logs and Snakemake's records.
COCO_JSON = config["source"]["coco_json"]
COCO_JSON_LINKS = [
    f"{LINKAGE}/source/coco_json/{number}.json"
    for number in range(1, len(COCO_JSON) + 1)
]
# The annotations file is read by the DICOM path and by video files without a COCO-VID JSON.
USES_ANNOTATIONS = config["source"]["format"] == "dicom" or (
    config["source"]["format"] == "video" and not config["source"]["coco_json"]
)
# Folders the manifest rebuilds whole (atomic_dir) beside the private manifest, its declared output:
# pseudonymous links to the raw files (DICOM) and per-sequence decoding specs (other formats).
# Neither is a directory() output, since Snakemake would write a group-readable
# .snakemake_timestamp into it after the job, past umask 077 and any onsuccess handler.
LINKS = f"{LINKAGE}/raw"
SOURCE_SPECS = f"{LINKAGE}/sources"
# Shell prefix of the rules that write into linkage.dir (their logs, links, private tables): files
# 0600, folders 0700 as they are made. (secure_linkage also runs at start and, when this workflow
# is the main one, at the end; a workflow that uses dynbus as a module skips onsuccess/onerror.)
PRIVATE_SHELL = "umask 077; "
# Ending of a private-log rule's shell: the log keeps the details (tracebacks may name raw
# paths), the console gets the stage's one-line reason (``dynbus STAGE: error: ...``, which names
# raw files by handle only), so that it does not hide behind "check log file(s)".
REASON_TO_CONSOLE = (
    " > {log:q} 2>&1 || {{ status=$?; grep -E '^dynbus [a-z-]+: [a-z]+: ' {log:q} >&2;"
    " exit $status; }}"
)
PRIVATE_LOG_FOLDERS = [
    "logs",
    "logs/prepare",
    "logs/import_frames",
]  # made by the manifest: {seq}/{position:06d}.dcm -> raw file


def _inside(path, folder):
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return path == folder or path.startswith(folder + os.sep)


def _refuse(problem):
    raise SystemExit(f"dynbus: config error: {problem}")


def check_data_paths():
    """Refuse a config that could make a rule overwrite the user's data or expose the linkage."""
    for folder in OUTPUT_FOLDERS:
        if _inside(LINKAGE, folder) or _inside(folder, LINKAGE):
            _refuse(
                f"linkage.dir and {folder}/, which holds outputs, must not contain one another"
            )
    if SIMULATE:
        if not (
            os.path.realpath(RAW) == os.path.realpath(DEMO_RAW)
            and os.path.realpath(RAW_ANNOTATIONS) == os.path.realpath(DEMO_ANNOTATIONS)
        ):
            _refuse(
                f"simulate.enabled is true (the synthetic demo in {DEMO_RAW}/) but raw_dir or "
                "annotations point elsewhere: set simulate.enabled: false to analyse your own data"
            )
        return
    user_paths = [("raw_dir", RAW), ("linkage.key", KEY)]
    user_paths += [("annotations", RAW_ANNOTATIONS)] if USES_ANNOTATIONS else []
    for name, path in user_paths:
        for folder in OUTPUT_FOLDERS:
            if _inside(path, folder):
                _refuse(
                    f"{name} must not be inside {folder}/, which the workflow writes"
                )
    if _inside(LINKAGE, RAW) or _inside(RAW, LINKAGE):
        _refuse("raw_dir and linkage.dir must not contain one another")
    if not os.path.isdir(RAW):
        _refuse("raw_dir is not a folder")
    if USES_ANNOTATIONS and not os.path.isfile(RAW_ANNOTATIONS):
        _refuse("annotations is not a file")


def _owner_only(path):
    mode = os.lstat(path).st_mode
    if mode & 0o077:
        os.chmod(path, stat.S_IMODE(mode) & ~0o077)


def secure_linkage():
    """Take group and other permissions off linkage.dir and everything in it (links aside): the
    files the workflow writes there become 0600, its folders 0700."""
    for folder in ["", *PRIVATE_LOG_FOLDERS]:
        os.makedirs(os.path.join(LINKAGE, folder), mode=0o700, exist_ok=True)
    for root, _, files in os.walk(LINKAGE):
        _owner_only(root)
        for name in files:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                _owner_only(path)


def _point(link, target):
    """Make ``link`` a symlink to ``target``'s absolute path; left untouched if it already is."""
    target = os.path.abspath(target)
    if os.path.islink(link) and os.readlink(link) == target:
        return
    os.makedirs(os.path.dirname(link), mode=0o700, exist_ok=True)
    staging = f"{link}.{os.getpid()}.tmp"
    os.symlink(target, staging)
    os.replace(staging, link)


check_data_paths()
secure_linkage()
if not SIMULATE:
    _point(RAW_LINK, RAW)
    if USES_ANNOTATIONS:
        _point(ANNOTATIONS_LINK, RAW_ANNOTATIONS)
    for link, target in zip(COCO_JSON_LINKS, COCO_JSON):
        _point(link, target)


onsuccess:
    secure_linkage()


onerror:
    secure_linkage()


@functools.cache
def _raw_tree_digest(raw, raw_annotations):
    annotations = os.stat(raw_annotations) if os.path.isfile(raw_annotations) else None
    # Names are bytes: Latin-1 or GB18030 names are not valid UTF-8 (the same digest otherwise).
    raw = os.fsencode(raw)
    digest = hashlib.sha256()
    for root, folders, files in os.walk(raw, followlinks=True):
        folders.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            info = os.stat(path)
            if annotations is None or (info.st_dev, info.st_ino) != (
                annotations.st_dev,
                annotations.st_ino,
            ):
                digest.update(os.path.relpath(path, raw) + b"\0")
                digest.update(f"{info.st_size}\0{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def raw_tree_digest(wildcards):
    """Digest of every raw file's relative path (its bytes), size and mtime (bar the
    annotations), so that a file added, removed or changed re-runs the manifest; '' for the demo
    (rule simulate's output)."""
    return "" if SIMULATE else _raw_tree_digest(RAW, RAW_ANNOTATIONS)


def manifest_input(wildcards):
    """The demo's raw folder and key, or the link to the user's raw folder (whose folder mtime
    says nothing: the manifest re-runs when raw_tree_digest changes)."""
    return {"raw": DEMO_RAW, "key": KEY} if SIMULATE else {"raw": ancient(RAW_LINK)}


def raw_annotations(wildcards):
    """The demo's annotation file, or the link to the user's."""
    return DEMO_ANNOTATIONS if SIMULATE else ANNOTATIONS_LINK


def raw_annotations_input(wildcards):
    """The demo's raw folder (rule simulate's output), or the link to the user's annotations."""
    return DEMO_RAW if SIMULATE else ANNOTATIONS_LINK
