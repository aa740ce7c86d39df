//! The part of an ONNX file (a protobuf `ModelProto`) that [`super::dense`] reads, borrowed from the
//! bytes: the graph's nodes, initializers, inputs and outputs. A reader of the protobuf wire format for
//! these few messages, so that the weights are read once, straight into the network's `f32` arrays (a
//! general decoder copied the 1.6 MB of a dense decoder's raw weights first: 1.7 ms of a 10 ms one-image
//! run). Anything it does not expect (a group, a field of the wrong wire type, a length past the end, text
//! that is not UTF-8) makes the whole reading `None`.

/// `TensorProto.DataType.FLOAT`.
pub(super) const FLOAT: i32 = 1;

/// The little-endian `f32`s of `b` (a multiple of 4 bytes long: the caller checks).
pub(super) fn le_floats(b: &[u8]) -> impl Iterator<Item = f32> + '_ {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
}

/// A graph, as far as read.
#[derive(Debug, Default)]
pub(super) struct GraphView<'a> {
    pub(super) nodes: Vec<NodeView<'a>>,
    pub(super) initializers: Vec<TensorView<'a>>,
    pub(super) inputs: Vec<&'a str>,
    pub(super) outputs: Vec<&'a str>,
}

/// A node.
#[derive(Debug, Default)]
pub(super) struct NodeView<'a> {
    pub(super) inputs: Vec<&'a str>,
    pub(super) outputs: Vec<&'a str>,
    pub(super) op_type: &'a str,
    pub(super) domain: &'a str,
    pub(super) attrs: Vec<Attr<'a>>,
}

/// An attribute's name and scalar value (`f` or `i`); `plain` is false when it has any other field
/// (a tensor, a graph, lists, a reference).
#[derive(Debug)]
pub(super) struct Attr<'a> {
    pub(super) name: &'a str,
    pub(super) f: f32,
    pub(super) i: i64,
    pub(super) plain: bool,
}

/// An initializer: `raw` borrowed, `float_data` decoded; `external` when it has a data location other
/// than the file, external data or a segment.
#[derive(Debug, Default)]
pub(super) struct TensorView<'a> {
    pub(super) name: &'a str,
    pub(super) dims: Vec<i64>,
    pub(super) data_type: i32,
    pub(super) raw: &'a [u8],
    pub(super) float_data: Vec<f32>,
    pub(super) external: bool,
}

/// One field's value.
enum Val<'a> {
    Varint(u64),
    Fixed64,
    Bytes(&'a [u8]),
    Fixed32(u32),
}

/// The fields of one message, in order: `Some(Err(()))` ends the iteration on malformed bytes.
struct Fields<'a> {
    buf: &'a [u8],
    pos: usize,
}

fn varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..70).step_by(7) {
        let b = *buf.get(*pos)?;
        *pos += 1;
        if shift == 63 && b > 1 {
            return None;
        }
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u64, Val<'a>), ()>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        Some(self.field().ok_or(()))
    }
}

impl<'a> Fields<'a> {
    fn field(&mut self) -> Option<(u64, Val<'a>)> {
        let key = varint(self.buf, &mut self.pos)?;
        let (field, wire) = (key >> 3, key & 7);
        if field == 0 {
            return None;
        }
        let buf = self.buf;
        let take = |pos: &mut usize, n: usize| -> Option<&'a [u8]> {
            let end = pos.checked_add(n)?;
            let s = buf.get(*pos..end)?;
            *pos = end;
            Some(s)
        };
        let v = match wire {
            0 => Val::Varint(varint(self.buf, &mut self.pos)?),
            1 => {
                take(&mut self.pos, 8)?;
                Val::Fixed64
            }
            2 => {
                let n = usize::try_from(varint(self.buf, &mut self.pos)?).ok()?;
                Val::Bytes(take(&mut self.pos, n)?)
            }
            5 => {
                let b = take(&mut self.pos, 4)?;
                Val::Fixed32(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            }
            _ => return None, // groups (3, 4) and unknown wire types
        };
        Some((field, v))
    }
}

/// Calls `f` with each field of the message `buf`; `None` on malformed bytes or when `f` says so.
fn each<'a>(buf: &'a [u8], mut f: impl FnMut(u64, Val<'a>) -> Option<()>) -> Option<()> {
    for item in (Fields { buf, pos: 0 }) {
        let (field, v) = item.ok()?;
        f(field, v)?;
    }
    Some(())
}

fn text(v: Val<'_>) -> Option<&str> {
    match v {
        Val::Bytes(b) => std::str::from_utf8(b).ok(),
        _ => None,
    }
}

fn bytes(v: Val<'_>) -> Option<&[u8]> {
    match v {
        Val::Bytes(b) => Some(b),
        _ => None,
    }
}

/// The graph of a `ModelProto` (field 7); `None` without one or on malformed bytes.
pub(super) fn graph(onnx: &[u8]) -> Option<GraphView<'_>> {
    let mut graph = None;
    each(onnx, |field, v| {
        if field == 7 {
            graph = Some(bytes(v)?);
        }
        Some(())
    })?;
    let mut g = GraphView::default();
    each(graph?, |field, v| {
        match field {
            1 => g.nodes.push(node(bytes(v)?)?),
            5 => g.initializers.push(tensor(bytes(v)?)?),
            11 => g.inputs.push(value_info_name(bytes(v)?)?),
            12 => g.outputs.push(value_info_name(bytes(v)?)?),
            15 => return None, // sparse initializers
            _ => {}
        }
        Some(())
    })?;
    Some(g)
}

fn value_info_name(buf: &[u8]) -> Option<&str> {
    let mut name = "";
    each(buf, |field, v| {
        if field == 1 {
            name = text(v)?;
        }
        Some(())
    })?;
    Some(name)
}

fn node(buf: &[u8]) -> Option<NodeView<'_>> {
    let mut n = NodeView::default();
    each(buf, |field, v| {
        match field {
            1 => n.inputs.push(text(v)?),
            2 => n.outputs.push(text(v)?),
            4 => n.op_type = text(v)?,
            5 => n.attrs.push(attr(bytes(v)?)?),
            7 => n.domain = text(v)?,
            _ => {}
        }
        Some(())
    })?;
    Some(n)
}

fn attr(buf: &[u8]) -> Option<Attr<'_>> {
    let mut a = Attr {
        name: "",
        f: 0.0,
        i: 0,
        plain: true,
    };
    each(buf, |field, v| {
        match (field, v) {
            (1, v) => a.name = text(v)?,
            (2, Val::Fixed32(x)) => a.f = f32::from_bits(x),
            (3, Val::Varint(x)) => a.i = x as i64, // int64: two's complement in 64 bits
            (2 | 3, _) => return None,
            // doc_string (13) and type (20) change nothing; anything else is not a plain scalar.
            (13 | 20, _) => {}
            _ => a.plain = false,
        }
        Some(())
    })?;
    Some(a)
}

fn tensor(buf: &[u8]) -> Option<TensorView<'_>> {
    let mut t = TensorView::default();
    each(buf, |field, v| {
        match (field, v) {
            (1, Val::Varint(d)) => t.dims.push(d as i64),
            (1, Val::Bytes(packed)) => {
                let mut pos = 0;
                while pos < packed.len() {
                    t.dims.push(varint(packed, &mut pos)? as i64);
                }
            }
            (2, Val::Varint(d)) => t.data_type = i32::try_from(d).ok()?,
            (4, Val::Fixed32(x)) => t.float_data.push(f32::from_bits(x)),
            (4, Val::Bytes(packed)) => {
                if packed.len() % 4 != 0 {
                    return None;
                }
                t.float_data.extend(le_floats(packed));
            }
            (8, v) => t.name = text(v)?,
            (9, Val::Bytes(raw)) => t.raw = raw,
            (3 | 13, _) => t.external = true,
            (14, Val::Varint(l)) => t.external |= l != 0,
            (1 | 2 | 4 | 9 | 14, _) => return None,
            _ => {}
        }
        Some(())
    })?;
    Some(t)
}
