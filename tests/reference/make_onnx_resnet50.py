"""A full-size seeded torchvision ResNet-50 exported to ONNX with every weight as external data,
so a Rust test can compare Lantern's hand-written ResNet-50 with Lantern's ONNX interpreter (and
both with onnxruntime) without committing 100 MB of weights.

Run from the repository root with torch, torchvision, onnx and onnxruntime installed (made with
torch 2.15, torchvision 0.29.2, onnx 1.23.2, onnxruntime 1.32.0):

    python tests/reference/make_onnx_resnet50.py

Writes tests/fixtures/onnx/:

  resnet50_seeded.onnx  the graph only (input `input` [1,3,224,224] float32 -> `logits` [1,1000]);
                        TorchScript exporter, opset 17, TrainingMode.PRESERVE with the model in
                        eval mode (explicit BatchNormalization nodes, training_mode=0, one output),
                        no constant folding. Every initializer is an unmodified float32 tensor of
                        the seeded state dict, named by its state-dict key, stored as external data
                        in `resnet50_seeded.onnx.data` (location/offset/length entries).
  resnet50_seeded.json  seed, layout convention, the state-dict layout, every initializer's name,
                        shape, offset, length and state-dict key, the size of the .data file, and
                        torch and onnxruntime logits for tests/fixtures/photos/chelsea_224.png.

The .data file is NOT kept: the script deletes it after checking that rebuilding it from the
seeded generator (tests/reference/seeded.py, `StateDict::seeded` / `seeded_values` in Rust) --
each initializer's seeded float32 little-endian values written at its offset, zeros in any gap
-- reproduces the bytes onnx wrote exactly. That is what the Rust test does before loading it.

Weights: `seeded_state_dict(resnet50(), 2024)`, the same seed make_cam_fixtures.py uses.
Input: chelsea_224.png (made by make_cam_fixtures.py) -> ToTensor -> Normalize(ImageNet mean, std).
torch and onnxruntime run single-threaded, so regenerating reproduces both files byte for byte.
"""
import json
import os
import sys
import warnings
from collections import Counter

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torchvision
from onnx import numpy_helper
from PIL import Image
from torchvision import transforms

sys.path.insert(0, os.path.dirname(__file__))
from seeded import seeded_state_dict, seeded_value  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "tests", "fixtures", "onnx")
PHOTO = os.path.join(ROOT, "tests", "fixtures", "photos", "chelsea_224.png")
NAME = "resnet50_seeded"
DATA = f"{NAME}.onnx.data"
SEED = 2024  # make_cam_fixtures.py's SEED
OPSET = 17
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]

LAYOUT_CONVENTION = (
    "Weights are seeded_state_dict(torchvision.models.resnet50(num_classes=1000), seed): every floating "
    "tensor of the torchvision state dict, keyed by its state-dict name, gets seeded_value(key, shape, seed) "
    "(tests/reference/seeded.py; StateDict::seeded / seeded_values in Rust), float32. `state_dict` lists "
    "[key, shape] for those tensors in state-dict order (num_batches_tracked, int64, is left out), the same "
    "format as tests/fixtures/cam/*.json. Every ONNX initializer is one of these tensors under the same name; "
    "its bytes are the float32 values little-endian, row-major, at `offset` in resnet50_seeded.onnx.data, "
    "`length` = 4 * elements bytes; bytes not covered by any initializer (none here) are zero."
)


def versions():
    return {"torch": torch.__version__, "torchvision": torchvision.__version__, "onnx": onnx.__version__,
            "onnxruntime": ort.__version__, "numpy": np.__version__}


def model_input() -> torch.Tensor:
    view = Image.open(PHOTO).convert("RGB")
    return transforms.Compose([transforms.ToTensor(), transforms.Normalize(MEAN, STD)])(view).unsqueeze(0)


def ort_logits(path, x):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    return sess.run(["logits"], {"input": x.numpy()})[0]


def check_initializers(proto, sd):
    """Problems with the initializers: names that are not state-dict keys, values that differ."""
    problems = []
    for init in proto.graph.initializer:
        if init.name not in sd:
            problems.append(f"{init.name}: not a state-dict key (shape {list(init.dims)})")
            continue
        ref = sd[init.name].numpy()
        if init.data_type != onnx.TensorProto.FLOAT:
            problems.append(f"{init.name}: data type {onnx.TensorProto.DataType.Name(init.data_type)}, not FLOAT")
            continue
        v = numpy_helper.to_array(init)
        if list(v.shape) != list(ref.shape):
            problems.append(f"{init.name}: shape {list(v.shape)}, state dict {list(ref.shape)}")
        elif v.astype("<f4").tobytes() != ref.astype("<f4").tobytes():
            problems.append(f"{init.name}: values differ from the state dict")
    return problems


def check_batchnorm(proto):
    bns = [n for n in proto.graph.node if n.op_type == "BatchNormalization"]
    bad = []
    for n in bns:
        training = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}.get("training_mode", 0)
        if training != 0 or len([o for o in n.output if o]) != 1:
            bad.append(f"{n.name}: training_mode={training}, outputs={list(n.output)}")
    return len(bns), bad


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    torch.set_num_threads(1)
    onnx_path = os.path.join(OUT, f"{NAME}.onnx")
    data_path = os.path.join(OUT, DATA)
    for p in (onnx_path, data_path):  # onnx appends to an existing .data file
        if os.path.exists(p):
            os.remove(p)

    model = torchvision.models.resnet50(weights=None, num_classes=1000)
    sd = seeded_state_dict(model, SEED)
    model.load_state_dict(sd)
    model.eval()
    layout = [[k, list(v.shape)] for k, v in model.state_dict().items() if v.dtype.is_floating_point]

    x = model_input()
    with torch.no_grad():
        torch_logits = model(x).numpy()

    # Export to a temporary single-file model, then re-save with every tensor external.
    tmp = os.path.join(OUT, f"{NAME}.tmp.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), tmp, dynamo=False, opset_version=OPSET, input_names=["input"],
                          output_names=["logits"], training=torch.onnx.TrainingMode.PRESERVE,
                          do_constant_folding=False)
    proto = onnx.load(tmp)
    os.remove(tmp)
    assert not model.training, "the export must leave the model in eval mode"

    problems = check_initializers(proto, sd)
    n_bn, bad_bn = check_batchnorm(proto)
    init_names = [i.name for i in proto.graph.initializer]
    assert [i.name for i in proto.graph.input] == ["input"], [i.name for i in proto.graph.input]
    unused = [k for k, _ in layout if k not in set(init_names)]
    constants = [n.name for n in proto.graph.node if n.op_type == "Constant"]
    for p in problems:
        print("INITIALIZER PROBLEM", p)
    for b in bad_bn:
        print("BATCHNORM NOT IN INFERENCE MODE", b)
    print(f"{len(init_names)} initializers, {len(problems)} problems; {n_bn} BatchNormalization nodes, "
          f"{len(bad_bn)} not in inference mode; state-dict float tensors not in the graph: {unused}; "
          f"Constant nodes: {constants}")
    assert not problems and not bad_bn and not unused

    onnx.save_model(proto, onnx_path, save_as_external_data=True, all_tensors_to_one_file=True,
                    location=DATA, size_threshold=0)
    saved = onnx.load(onnx_path, load_external_data=False)
    initializers = []
    for init in saved.graph.initializer:
        assert init.data_location == onnx.TensorProto.EXTERNAL, init.name
        ext = {e.key: e.value for e in init.external_data}
        assert ext["location"] == DATA and "offset" in ext and "length" in ext, (init.name, ext)
        shape = list(init.dims)
        offset, length = int(ext["offset"]), int(ext["length"])
        assert length == 4 * int(np.prod(shape)), init.name
        initializers.append({"name": init.name, "shape": shape, "offset": offset, "length": length,
                             "state_dict_key": init.name})
    data_bytes = os.path.getsize(data_path)

    # onnxruntime needs the .data file, so it runs before the file is deleted.
    logits = ort_logits(onnx_path, x)
    diff = float(np.abs(torch_logits - logits).max())

    # What the Rust test does: rebuild the .data file from the seeded generator.
    with open(data_path, "rb") as f:
        original = f.read()
    rebuilt = bytearray(data_bytes)
    for e in initializers:
        values = seeded_value(e["state_dict_key"], tuple(e["shape"]), SEED).astype("<f4").tobytes()
        assert len(values) == e["length"]
        rebuilt[e["offset"]:e["offset"] + e["length"]] = values
    assert bytes(rebuilt) == original, "the seeded generator does not reproduce the .data file"
    spans = sorted((e["offset"], e["length"]) for e in initializers)
    contiguous = spans[0][0] == 0 and all(a + la == b for (a, la), (b, _) in zip(spans, spans[1:])) \
        and spans[-1][0] + spans[-1][1] == data_bytes
    in_graph_order = [e["offset"] for e in initializers] == sorted(e["offset"] for e in initializers)
    os.remove(data_path)

    record = {
        "model": "torchvision resnet50, 1000 classes, seeded weights",
        "versions": versions(),
        "seed": SEED,
        "layout_convention": LAYOUT_CONVENTION,
        "state_dict": layout,
        "onnx": {"file": f"{NAME}.onnx", "bytes": os.path.getsize(onnx_path), "exporter": "torchscript",
                 "opset": OPSET, "training": "TrainingMode.PRESERVE (model in eval mode)",
                 "do_constant_folding": False,
                 "input": {"name": "input", "shape": [1, 3, 224, 224]},
                 "output": {"name": "logits", "shape": [1, 1000]},
                 "op_histogram": dict(sorted(Counter(n.op_type for n in saved.graph.node).items())),
                 "batchnorm": {"nodes": n_bn, "training_mode": 0, "outputs_per_node": 1}},
        "external_data": {"location": DATA, "bytes": data_bytes, "dtype": "float32 little-endian",
                          "contiguous_no_padding": contiguous, "offsets_in_initializer_order": in_graph_order,
                          "initializers_in_state_dict_order": init_names == [k for k, _ in layout],
                          "rebuilt_from_seed_matches": True},
        "initializer_check": {"count": len(initializers), "all_named_by_state_dict_key": True,
                              "all_equal_to_state_dict": True, "not_state_dict_tensors": [],
                              "state_dict_keys_not_in_graph": [k for k in sd if k not in set(init_names)]},
        "initializers": initializers,
        "image": {"file": "tests/fixtures/photos/chelsea_224.png", "preprocess": "ToTensor, Normalize(mean, std)",
                  "mean": MEAN, "std": STD},
        "torch_logits": [float(v) for v in torch_logits[0]],
        "ort_logits": [float(v) for v in logits[0]],
        "max_abs_diff_torch_ort": diff,
        "max_rel_diff_torch_ort": diff / float(np.abs(torch_logits).max()),
        "torch_top1": int(torch_logits[0].argmax()),
        "ort_top1": int(logits[0].argmax()),
    }
    with open(os.path.join(OUT, f"{NAME}.json"), "w") as f:
        json.dump(record, f, indent=1)
    print(f"{NAME}.onnx {record['onnx']['bytes']} B, .data {data_bytes} B (deleted), {len(initializers)} "
          f"initializers, contiguous {contiguous}, in order {in_graph_order}; top1 torch {record['torch_top1']} "
          f"ort {record['ort_top1']}, |torch-ort| {diff:.3e}")
    print("torch", torch_logits[0][:5], "ort", logits[0][:5])


if __name__ == "__main__":
    main()
