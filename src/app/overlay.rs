//! The GPU overlay: `shaders/overlay.wgsl` drawn into a rectangle of the egui frame through an
//! `egui_wgpu::CallbackTrait`. GPU objects are created once and kept in the renderer's callback
//! resources; each view (the main canvas, every compare cell) has its own textures and uniform
//! buffer, uploaded only when its image or map changes. Per frame, only the uniforms are written.

use crate::colormap::Colormap;
use crate::map::WeightMap;
use eframe::egui_wgpu::{self, CallbackResources, CallbackTrait, ScreenDescriptor, wgpu};
use image::RgbaImage;
use std::collections::HashMap;
use std::num::NonZeroU64;
use std::sync::Arc;

const SHADER: &str = include_str!("../../shaders/overlay.wgsl");

/// The shader's uniforms (`Params` in overlay.wgsl), 64 bytes.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct OverlayUniforms {
    pub view_uv: [f32; 4],
    pub map_uv: [f32; 4],
    pub alpha: f32,
    pub gamma: f32,
    pub threshold: f32,
    pub wipe: f32,
    pub mode: u32,
    pub contour: u32,
    pub colormap: u32,
    pub has_map: u32,
}

/// Content uploaded to a view's textures, with a key that changes when the content does.
#[derive(Clone)]
pub struct ViewContent {
    pub image_key: u64,
    pub image: Arc<RgbaImage>,
    pub map_key: u64,
    pub map: Option<Arc<WeightMap>>,
}

/// A view's uniform buffer and bind group (which keeps its textures alive), with the keys of the
/// content uploaded.
struct ViewGpu {
    image_key: u64,
    map_key: u64,
    uniform: wgpu::Buffer,
    bind_group: wgpu::BindGroup,
}

/// Pipeline, sampler, colormap table and per-view resources.
pub struct OverlayRenderer {
    pipeline: wgpu::RenderPipeline,
    layout: wgpu::BindGroupLayout,
    sampler: wgpu::Sampler,
    lut: wgpu::TextureView,
    views: HashMap<u64, ViewGpu>,
}

fn texture(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    label: &str,
    size: (u32, u32),
    format: wgpu::TextureFormat,
    bytes: &[u8],
    bpp: u32,
) -> wgpu::TextureView {
    let extent = wgpu::Extent3d { width: size.0.max(1), height: size.1.max(1), depth_or_array_layers: 1 };
    let tex = device.create_texture(&wgpu::TextureDescriptor {
        label: Some(label),
        size: extent,
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format,
        usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
        view_formats: &[],
    });
    queue.write_texture(
        wgpu::TexelCopyTextureInfo {
            texture: &tex,
            mip_level: 0,
            origin: wgpu::Origin3d::ZERO,
            aspect: wgpu::TextureAspect::All,
        },
        bytes,
        wgpu::TexelCopyBufferLayout {
            offset: 0,
            bytes_per_row: Some(bpp * extent.width),
            rows_per_image: Some(extent.height),
        },
        extent,
    );
    tex.create_view(&wgpu::TextureViewDescriptor::default())
}

impl OverlayRenderer {
    /// Create the pipeline and register it with egui's renderer; call once at start-up.
    pub fn install(rs: &egui_wgpu::RenderState) {
        let device = &rs.device;
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("lantern overlay"),
            source: wgpu::ShaderSource::Wgsl(SHADER.into()),
        });
        let tex_entry = |binding, filterable| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::FRAGMENT,
            ty: wgpu::BindingType::Texture {
                sample_type: wgpu::TextureSampleType::Float { filterable },
                view_dimension: wgpu::TextureViewDimension::D2,
                multisampled: false,
            },
            count: None,
        };
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("lantern overlay"),
            entries: &[
                tex_entry(0, true),
                wgpu::BindGroupLayoutEntry {
                    binding: 1,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Sampler(wgpu::SamplerBindingType::Filtering),
                    count: None,
                },
                tex_entry(2, false),
                tex_entry(3, false),
                wgpu::BindGroupLayoutEntry {
                    binding: 4,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: false,
                        min_binding_size: NonZeroU64::new(size_of::<OverlayUniforms>() as u64),
                    },
                    count: None,
                },
            ],
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("lantern overlay"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("lantern overlay"),
            layout: Some(&pipeline_layout),
            vertex: wgpu::VertexState {
                module: &module,
                entry_point: Some("vs_main"),
                compilation_options: Default::default(),
                buffers: &[],
            },
            fragment: Some(wgpu::FragmentState {
                module: &module,
                entry_point: Some("fs_main"),
                compilation_options: Default::default(),
                targets: &[Some(wgpu::ColorTargetState {
                    format: rs.target_format,
                    blend: Some(wgpu::BlendState::PREMULTIPLIED_ALPHA_BLENDING),
                    write_mask: wgpu::ColorWrites::ALL,
                })],
            }),
            primitive: wgpu::PrimitiveState::default(),
            depth_stencil: None,
            multisample: wgpu::MultisampleState::default(),
            multiview_mask: None,
            cache: None,
        });
        let sampler = device.create_sampler(&wgpu::SamplerDescriptor {
            mag_filter: wgpu::FilterMode::Linear,
            min_filter: wgpu::FilterMode::Linear,
            mipmap_filter: wgpu::MipmapFilterMode::Nearest,
            ..Default::default()
        });
        let mut table = Vec::with_capacity(256 * Colormap::ALL.len() * 4);
        for &c in Colormap::ALL {
            for [r, g, b] in c.table() {
                table.extend([r, g, b, 255]);
            }
        }
        let lut = texture(
            device,
            &rs.queue,
            "lantern colormaps",
            (256, Colormap::ALL.len() as u32),
            wgpu::TextureFormat::Rgba8Unorm,
            &table,
            4,
        );
        rs.renderer.write().callback_resources.insert(OverlayRenderer {
            pipeline,
            layout,
            sampler,
            lut,
            views: HashMap::new(),
        });
    }

    fn update_view(&mut self, device: &wgpu::Device, queue: &wgpu::Queue, id: u64, content: &ViewContent) {
        let stale =
            self.views.get(&id).is_none_or(|v| v.image_key != content.image_key || v.map_key != content.map_key);
        if !stale {
            return;
        }
        let img = &content.image;
        let image =
            texture(device, queue, "lantern image", img.dimensions(), wgpu::TextureFormat::Rgba8Unorm, img.as_raw(), 4);
        let (map_size, map_bytes): ((u32, u32), Vec<u8>) = match &content.map {
            Some(m) => ((m.width as u32, m.height as u32), bytemuck::cast_slice(&m.values).to_vec()),
            None => ((1, 1), vec![0; 4]),
        };
        let map = texture(device, queue, "lantern map", map_size, wgpu::TextureFormat::R32Float, &map_bytes, 4);
        let uniform = match self.views.remove(&id) {
            Some(v) => v.uniform,
            None => device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("lantern overlay uniforms"),
                size: size_of::<OverlayUniforms>() as u64,
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }),
        };
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("lantern overlay"),
            layout: &self.layout,
            entries: &[
                wgpu::BindGroupEntry { binding: 0, resource: wgpu::BindingResource::TextureView(&image) },
                wgpu::BindGroupEntry { binding: 1, resource: wgpu::BindingResource::Sampler(&self.sampler) },
                wgpu::BindGroupEntry { binding: 2, resource: wgpu::BindingResource::TextureView(&map) },
                wgpu::BindGroupEntry { binding: 3, resource: wgpu::BindingResource::TextureView(&self.lut) },
                wgpu::BindGroupEntry { binding: 4, resource: uniform.as_entire_binding() },
            ],
        });
        self.views.insert(id, ViewGpu { image_key: content.image_key, map_key: content.map_key, uniform, bind_group });
    }
}

/// One frame's drawing of one view.
pub struct OverlayCallback {
    pub view: u64,
    pub content: ViewContent,
    pub uniforms: OverlayUniforms,
}

impl CallbackTrait for OverlayCallback {
    fn prepare(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        _screen: &ScreenDescriptor,
        _encoder: &mut wgpu::CommandEncoder,
        resources: &mut CallbackResources,
    ) -> Vec<wgpu::CommandBuffer> {
        if let Some(r) = resources.get_mut::<OverlayRenderer>() {
            r.update_view(device, queue, self.view, &self.content);
            if let Some(v) = r.views.get(&self.view) {
                queue.write_buffer(&v.uniform, 0, bytemuck::bytes_of(&self.uniforms));
            }
        }
        Vec::new()
    }

    fn paint(
        &self,
        _info: egui::PaintCallbackInfo,
        pass: &mut wgpu::RenderPass<'static>,
        resources: &CallbackResources,
    ) {
        let Some(r) = resources.get::<OverlayRenderer>() else { return };
        let Some(v) = r.views.get(&self.view) else { return };
        pass.set_pipeline(&r.pipeline);
        pass.set_bind_group(0, &v.bind_group, &[]);
        pass.draw(0..3, 0..1);
    }
}
