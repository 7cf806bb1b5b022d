//! `go_struct!`: declares a model's Go JSON members in Go field order.
//!
//! Each member is one bracketed entry:
//! - `["name" => field]`: always written, with the field type's codec;
//! - `["name" => field, omitempty]`: left out when Go considers it empty;
//! - `["name" => field as Codec]` / `["name" => field as Codec, omitempty]`:
//!   with a specific [`FieldCodec`](super::codec::FieldCodec);
//! - `[embed field: Type]`: a gogo non-nullable embedded message whose
//!   members are promoted into this object (written even when absent);
//! - `[embed_ptr field: Type]`: a nullable embedded message (`*T`): its
//!   members are promoted when present and skipped when nil.

macro_rules! go_struct {
    ($ty:ty, $go:literal, { $( [ $($e:tt)* ] ),* $(,)? }) => {
        impl $crate::json::codec::GoCodec for $ty {
            fn encode_go(&self, out: &mut String) {
                $crate::json::codec::encode_struct(self, out)
            }
            fn is_go_empty(&self) -> bool {
                false
            }
            fn decode_go(
                &mut self,
                v: &$crate::json::parse::Node<'_>,
                cx: &mut $crate::json::codec::Cx,
            ) -> Result<(), $crate::json::error::JsonError> {
                $crate::json::codec::decode_struct(self, v, cx)
            }
            fn go_type() -> String {
                concat!("models.", $go).to_string()
            }
        }

        impl $crate::json::codec::GoStruct for $ty {
            const GO_NAME: &'static str = $go;

            fn write_fields(&self, w: &mut $crate::json::codec::ObjWriter<'_>) {
                $( go_member!(@write self, w, $($e)*); )*
            }

            fn field_names(out: &mut Vec<&'static str>) {
                $( go_member!(@names out, $($e)*); )*
            }

            #[allow(unused_variables)]
            fn set_field(
                &mut self,
                name: &str,
                v: &$crate::json::parse::Node<'_>,
                cx: &mut $crate::json::codec::Cx,
            ) -> Result<bool, $crate::json::error::JsonError> {
                $( if go_member!(@set self, name, v, cx, $($e)*) { return Ok(true); } )*
                Ok(false)
            }
        }
    };
}

macro_rules! go_member {
    // ---- embedded messages ----
    (@write $s:ident, $w:ident, embed $f:ident : $t:ty) => {
        match &$s.$f {
            Some(x) => $crate::json::codec::GoStruct::write_fields(x, $w),
            None => $crate::json::codec::GoStruct::write_fields(&<$t>::default(), $w),
        }
    };
    (@write $s:ident, $w:ident, embed_ptr $f:ident : $t:ty) => {
        if let Some(x) = &$s.$f {
            $crate::json::codec::GoStruct::write_fields(x, $w);
        }
    };
    (@names $o:ident, embed $f:ident : $t:ty) => {
        <$t as $crate::json::codec::GoStruct>::field_names($o)
    };
    (@names $o:ident, embed_ptr $f:ident : $t:ty) => {
        <$t as $crate::json::codec::GoStruct>::field_names($o)
    };
    (@set $s:ident, $n:ident, $v:ident, $cx:ident, embed $f:ident : $t:ty) => {
        go_member!(@set_embedded $s, $n, $v, $cx, $f, $t)
    };
    (@set $s:ident, $n:ident, $v:ident, $cx:ident, embed_ptr $f:ident : $t:ty) => {
        go_member!(@set_embedded $s, $n, $v, $cx, $f, $t)
    };
    (@set_embedded $s:ident, $n:ident, $v:ident, $cx:ident, $f:ident, $t:ty) => {{
        let mut names = Vec::new();
        <$t as $crate::json::codec::GoStruct>::field_names(&mut names);
        if names.contains(&$n) {
            $crate::json::codec::GoStruct::set_field(
                $s.$f.get_or_insert_with(<$t>::default),
                $n,
                $v,
                $cx,
            )?
        } else {
            false
        }
    }};

    // ---- plain members ----
    (@write $s:ident, $w:ident, $n:literal => $f:ident, omitempty) => {
        go_member!(@write $s, $w, $n => $f as $crate::json::codec::Plain, omitempty)
    };
    (@write $s:ident, $w:ident, $n:literal => $f:ident) => {
        go_member!(@write $s, $w, $n => $f as $crate::json::codec::Plain)
    };
    (@write $s:ident, $w:ident, $n:literal => $f:ident as $c:ty, omitempty) => {
        if !<$c as $crate::json::codec::FieldCodec<_>>::is_empty(&$s.$f) {
            <$c as $crate::json::codec::FieldCodec<_>>::encode(&$s.$f, $w.key($n));
        }
    };
    (@write $s:ident, $w:ident, $n:literal => $f:ident as $c:ty) => {
        <$c as $crate::json::codec::FieldCodec<_>>::encode(&$s.$f, $w.key($n))
    };
    (@names $o:ident, $n:literal => $($rest:tt)*) => {
        $o.push($n)
    };
    (@set $s:ident, $nm:ident, $v:ident, $cx:ident, $n:literal => $f:ident $(, omitempty)?) => {
        go_member!(@set $s, $nm, $v, $cx, $n => $f as $crate::json::codec::Plain)
    };
    (@set $s:ident, $nm:ident, $v:ident, $cx:ident, $n:literal => $f:ident as $c:ty $(, omitempty)?) => {
        if $nm == $n {
            <$c as $crate::json::codec::FieldCodec<_>>::decode(&mut $s.$f, $v, $cx)?;
            true
        } else {
            false
        }
    };
}
