//! Distances, bounding boxes and (de)serialisation of service areas.

use geo::{BoundingRect, Contains, Coord, LineString, MultiPolygon, Point, Polygon};

use crate::{Error, Result};

const EARTH_RADIUS_KM: f64 = 6371.0088;
const KM_PER_DEGREE_LAT: f64 = 111.195;

/// Great-circle distance in km between two (lat, lon) points in degrees.
pub fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * a.sqrt().min(1.0).asin()
}

/// A (lat_min, lat_max, lon_min, lon_max) box around `(lat, lon)` containing every point
/// within `radius_km`. Longitude bounds are `None` near the poles or across the antimeridian.
pub fn bounding_box(lat: f64, lon: f64, radius_km: f64) -> (f64, f64, Option<(f64, f64)>) {
    // small margin so that floating point never cuts a point the exact check would keep
    let dlat = radius_km / KM_PER_DEGREE_LAT * 1.001 + 1e-9;
    let lat_min = lat - dlat;
    let lat_max = lat + dlat;
    if lat_min <= -89.0 || lat_max >= 89.0 {
        return (lat_min, lat_max, None);
    }
    let cos = lat_min.to_radians().cos().min(lat_max.to_radians().cos());
    let dlon = dlat / cos;
    if lon - dlon < -180.0 || lon + dlon > 180.0 {
        return (lat_min, lat_max, None);
    }
    (lat_min, lat_max, Some((lon - dlon, lon + dlon)))
}

/// Whether the area contains the point (lat, lon).
pub fn area_contains(area: &MultiPolygon<f64>, lat: f64, lon: f64) -> bool {
    area.contains(&Point::new(lon, lat))
}

/// (lat_min, lat_max, lon_min, lon_max) of an area.
pub fn area_bbox(area: &MultiPolygon<f64>) -> Option<(f64, f64, f64, f64)> {
    area.bounding_rect()
        .map(|r| (r.min().y, r.max().y, r.min().x, r.max().x))
}

type Ring = Vec<[f64; 2]>;

fn ring(line: &LineString<f64>) -> Ring {
    line.0.iter().map(|c| [c.x, c.y]).collect()
}

/// Serialises an area as JSON `[[[ [x,y], .. ] ring, ..] polygon, ..]` (exterior ring first).
pub fn encode_area(area: &MultiPolygon<f64>) -> Result<String> {
    let polys: Vec<Vec<Ring>> = area
        .0
        .iter()
        .map(|p| {
            std::iter::once(ring(p.exterior()))
                .chain(p.interiors().iter().map(ring))
                .collect()
        })
        .collect();
    Ok(serde_json::to_string(&polys)?)
}

pub fn decode_area(text: &str) -> Result<MultiPolygon<f64>> {
    let polys: Vec<Vec<Ring>> = serde_json::from_str(text)?;
    let to_line = |r: Ring| LineString::from(r.into_iter().map(|[x, y]| Coord { x, y }).collect::<Vec<_>>());
    let mut out = Vec::with_capacity(polys.len());
    for rings in polys {
        let mut rings = rings.into_iter();
        let exterior = rings
            .next()
            .ok_or_else(|| Error::Corrupt("service area polygon without exterior".into()))?;
        out.push(Polygon::new(to_line(exterior), rings.map(to_line).collect()));
    }
    Ok(MultiPolygon(out))
}

/// Gaussian decay in 0..=1: 1 at distance 0, 0.5 at `scale_km`.
pub fn gauss_decay(distance_km: f64, scale_km: f64) -> f64 {
    let scale = scale_km.max(0.1);
    (std::f64::consts::LN_2 * -(distance_km / scale).powi(2)).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn haversine_aarhus_copenhagen() {
        // Aarhus C – København H ≈ 157 km
        let d = haversine_km(56.1503, 10.2039, 55.6726, 12.5646);
        assert!((d - 156.5).abs() < 3.0, "{d}");
    }

    #[test]
    fn bbox_contains_radius() {
        let (a, b, lon) = bounding_box(56.15, 10.2, 5.0);
        let (c, d) = lon.unwrap();
        assert!(haversine_km(56.15, 10.2, a, 10.2) >= 5.0);
        assert!(haversine_km(56.15, 10.2, b, 10.2) >= 5.0);
        assert!(haversine_km(56.15, 10.2, 56.15, c) >= 5.0);
        assert!(haversine_km(56.15, 10.2, 56.15, d) >= 5.0);
    }

    #[test]
    fn gauss_half_at_scale() {
        assert!((gauss_decay(5.0, 5.0) - 0.5).abs() < 1e-9);
        assert!((gauss_decay(0.0, 5.0) - 1.0).abs() < 1e-9);
    }
}
