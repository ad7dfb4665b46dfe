# External validation's paths, checks and helpers (rules in external.smk, docs/external.md): the
# site's data are read only, seen by the rules through links under linkage.dir/external/.
EXT = config["external"]
EXTERNAL = "results/external"
EXT_LINKAGE = f"{LINKAGE}/external"
EXT_LINKS = f"{EXT_LINKAGE}/raw"
EXT_SIMULATE = EXT["simulate"]["enabled"]
EXT_DEMO_RAW = f"{DEMO}/external/raw"
EXT_DEMO_ANNOTATIONS = f"{EXT_DEMO_RAW}/annotations.csv"
EXT_DEMO_KEY = f"{DEMO}/external/key.hex"
EXT_KEY = EXT_DEMO_KEY if EXT_SIMULATE else (EXT["key"] or f"{EXT_LINKAGE}/key.hex")
EXT_RAW_LINK = f"{EXT_LINKAGE}/source/raw_dir"
EXT_ANNOTATIONS_LINK = f"{EXT_LINKAGE}/source/annotations.csv"
EXT_ANNOTATIONS = EXT_DEMO_ANNOTATIONS if EXT_SIMULATE else EXT_ANNOTATIONS_LINK
EXT_MODEL = f"{EXTERNAL}/model"
# The stages after the frames run as the package froze them: its config sections (model, input
# size, score floor, single-frame pick, fusion, evaluation) from `dynbus external-model`.
EXT_CONFIG = f"{EXT_MODEL}/config.yaml"
EXT_FRAMES = f"{EXTERNAL}/frames"


def external_labels(labels):
    """Report labels of an external-validation result."""
    return {**labels, "data": "external"}


def check_external_paths():
    """Refuse an external site config that could overwrite its data or expose its linkage."""
    if EXT["source"]["format"] != "dicom":
        _refuse("external.source.format: external validation reads DICOM only so far")
    if EXT_SIMULATE:
        if not (
            os.path.realpath(EXT["raw_dir"]) == os.path.realpath(EXT_DEMO_RAW)
            and os.path.realpath(EXT["annotations"])
            == os.path.realpath(EXT_DEMO_ANNOTATIONS)
        ):
            _refuse(
                f"external.simulate.enabled is true (the synthetic site in {EXT_DEMO_RAW}/) but "
                "external.raw_dir or external.annotations point elsewhere"
            )
        return
    for name, path in [
        ("external.raw_dir", EXT["raw_dir"]),
        ("external.annotations", EXT["annotations"]),
        ("external.key", EXT_KEY),
    ]:
        for folder in OUTPUT_FOLDERS:
            if _inside(path, folder):
                _refuse(
                    f"{name} must not be inside {folder}/, which the workflow writes"
                )
    if _inside(LINKAGE, EXT["raw_dir"]) or _inside(EXT["raw_dir"], LINKAGE):
        _refuse("external.raw_dir and linkage.dir must not contain one another")
    if not os.path.isdir(EXT["raw_dir"]):
        _refuse("external.raw_dir is not a folder")
    if not os.path.isfile(EXT["annotations"]):
        _refuse("external.annotations is not a file")


check_external_paths()
if not EXT_SIMULATE:
    _point(EXT_RAW_LINK, EXT["raw_dir"])
    _point(EXT_ANNOTATIONS_LINK, EXT["annotations"])


def external_manifest_input(wildcards):
    """The synthetic site's raw folder and key, or the link to the site's raw folder."""
    if EXT_SIMULATE:
        return {"raw": EXT_DEMO_RAW, "key": EXT_DEMO_KEY}
    return {"raw": ancient(EXT_RAW_LINK)}


def external_raw_tree(wildcards):
    """Digest of the site's raw files (re-runs the manifest when one changes); '' for the demo."""
    return "" if EXT_SIMULATE else _raw_tree_digest(EXT["raw_dir"], EXT["annotations"])


def external_outputs(wildcards):
    """Every output of the external validation."""
    return [
        *rules.external_manifest.output,
        *rules.external_collect_prepared.output,
        *rules.external_split.output,
        *rules.external_model.output,
        *rules.external_evaluate.output,
        *rules.external_points.output,
        *rules.external_tables.output,
        *rules.external_frozen_tables.output,
        *expand(rules.external_froc.output, iou=HIT_IOU),
        *rules.external_video_metrics.output,
        *rules.external_subgroups.output,
        *rules.external_forest.output,
    ]
