// Lantern's overlay: the image with a weight map drawn over it, entirely in the fragment shader,
// so moving a slider only changes these uniforms.
//
// The map is an R32Float texture read with textureLoad and interpolated bilinearly here
// (half-pixel centres, edge clamp: the same resampling as Lantern's CPU exports), because
// 32-bit float textures are not filterable on every adapter. Colours come from a 256x5 lookup
// texture, one row per colormap.

struct Params {
    // Image UV rectangle shown in the paint rectangle: (u0, v0, du, dv).
    view_uv: vec4<f32>,
    // Where the map lies in image UV: (u0, v0, du, dv).
    map_uv: vec4<f32>,
    // Blend of the map colour over the image, 0..1.
    alpha: f32,
    // Map values are raised to this power before colouring.
    gamma: f32,
    // Contour level, 0..1.
    threshold: f32,
    // Wipe divider in paint-rectangle x, 0..1.
    wipe: f32,
    // 0 overlay, 1 map only, 2 foreground I*M, 3 background I*(1-M), 4 wipe.
    mode: u32,
    // Draw the contour at the threshold (0 or 1).
    contour: u32,
    // Row of the lookup texture.
    colormap: u32,
    // Whether a map is present (0 shows the image alone).
    has_map: u32,
};

@group(0) @binding(0) var image_tex: texture_2d<f32>;
@group(0) @binding(1) var image_sampler: sampler;
@group(0) @binding(2) var map_tex: texture_2d<f32>;
@group(0) @binding(3) var lut_tex: texture_2d<f32>;
@group(0) @binding(4) var<uniform> params: Params;

struct VsOut {
    @builtin(position) position: vec4<f32>,
    @location(0) local: vec2<f32>,
};

// One triangle covering the viewport, which egui sets to the paint rectangle.
@vertex
fn vs_main(@builtin(vertex_index) i: u32) -> VsOut {
    let uv = vec2<f32>(f32((i << 1u) & 2u), f32(i & 2u));
    var out: VsOut;
    out.position = vec4<f32>(uv.x * 2.0 - 1.0, 1.0 - uv.y * 2.0, 0.0, 1.0);
    out.local = uv;
    return out;
}

fn map_value(map_pos: vec2<f32>) -> f32 {
    let size = vec2<i32>(textureDimensions(map_tex));
    let p = map_pos * vec2<f32>(size) - 0.5;
    let base = floor(p);
    let f = p - base;
    let i0 = clamp(vec2<i32>(base), vec2<i32>(0), size - 1);
    let i1 = clamp(vec2<i32>(base) + 1, vec2<i32>(0), size - 1);
    let a = textureLoad(map_tex, vec2<i32>(i0.x, i0.y), 0).r;
    let b = textureLoad(map_tex, vec2<i32>(i1.x, i0.y), 0).r;
    let c = textureLoad(map_tex, vec2<i32>(i0.x, i1.y), 0).r;
    let d = textureLoad(map_tex, vec2<i32>(i1.x, i1.y), 0).r;
    return mix(mix(a, b, f.x), mix(c, d, f.x), f.y);
}

fn colour(v: f32) -> vec3<f32> {
    let shaded = pow(clamp(v, 0.0, 1.0), params.gamma);
    let index = i32(round(shaded * 255.0));
    return textureLoad(lut_tex, vec2<i32>(index, i32(params.colormap)), 0).rgb;
}

@fragment
fn fs_main(in: VsOut) -> @location(0) vec4<f32> {
    let uv = params.view_uv.xy + in.local * params.view_uv.zw;
    let inside_image = all(uv >= vec2<f32>(0.0)) && all(uv <= vec2<f32>(1.0));
    let image = textureSample(image_tex, image_sampler, uv).rgb;
    let map_pos = (uv - params.map_uv.xy) / params.map_uv.zw;
    let inside_map = all(map_pos >= vec2<f32>(0.0)) && all(map_pos <= vec2<f32>(1.0));
    let m = map_value(map_pos);
    // Derivatives in uniform control flow, before any branch.
    let width = fwidth(m);
    if !inside_image {
        return vec4<f32>(0.0, 0.0, 0.0, 0.0);
    }
    if params.has_map == 0u {
        return vec4<f32>(image, 1.0);
    }
    if !inside_map {
        // The model never saw this part of the image.
        return vec4<f32>(image * 0.35, 1.0);
    }
    let mc = clamp(m, 0.0, 1.0);
    let blended = mix(image, colour(mc), params.alpha);
    var rgb = blended;
    switch params.mode {
        case 1u: { rgb = colour(mc); }
        case 2u: { rgb = image * mc; }
        case 3u: { rgb = image * (1.0 - mc); }
        case 4u: { rgb = select(blended, image, in.local.x < params.wipe); }
        default: { rgb = blended; }
    }
    if params.contour == 1u && abs(m - params.threshold) < width * 1.0 {
        rgb = vec3<f32>(1.0, 1.0, 1.0);
    }
    if params.mode == 4u && abs(in.local.x - params.wipe) < 0.002 {
        rgb = vec3<f32>(1.0, 1.0, 1.0);
    }
    return vec4<f32>(rgb, 1.0);
}
