//! Short ids of monitoring infos: a bundle's responses carry each metric's payload under a
//! short id (`monitoring_data`), and the runner asks once what an id stands for
//! (`MonitoringInfosMetadataRequest`). Runners that read only `monitoring_data` (Prism,
//! Dataflow) get counters and progress this way; the full `monitoring_infos` are sent too.

use std::collections::{BTreeMap, HashMap};

use crate::proto::pipeline::MonitoringInfo;

/// A metric's identity: its URN, type and labels (not its payload).
type Key = (String, String, BTreeMap<String, String>);

/// The short ids a worker gave so far, stable for its life.
#[derive(Debug, Default)]
pub(crate) struct ShortIds {
    ids: HashMap<Key, String>,
    /// What each id stands for: the metric without a payload.
    metadata: HashMap<String, MonitoringInfo>,
}

impl ShortIds {
    /// The payloads of `infos` by short id, giving new ids to metrics not seen before.
    pub fn data(&mut self, infos: &[MonitoringInfo]) -> HashMap<String, Vec<u8>> {
        infos
            .iter()
            .map(|info| {
                let key = (
                    info.urn.clone(),
                    info.r#type.clone(),
                    info.labels
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                );
                let next = self.ids.len();
                let id = self
                    .ids
                    .entry(key)
                    .or_insert_with(|| format!("{next:x}"))
                    .clone();
                self.metadata
                    .entry(id.clone())
                    .or_insert_with(|| MonitoringInfo {
                        payload: Vec::new(),
                        start_time: None,
                        ..info.clone()
                    });
                (id, info.payload.clone())
            })
            .collect()
    }

    /// What the ids stand for; ids never given are left out.
    pub fn metadata(&self, ids: &[String]) -> HashMap<String, MonitoringInfo> {
        ids.iter()
            .filter_map(|id| self.metadata.get(id).map(|info| (id.clone(), info.clone())))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &str, payload: u8) -> MonitoringInfo {
        MonitoringInfo {
            urn: "beam:metric:user:sum_int64:v1".into(),
            r#type: "beam:metrics:sum_int64:v1".into(),
            payload: vec![payload],
            labels: [("NAME".to_string(), name.to_string())].into(),
            start_time: None,
        }
    }

    #[test]
    fn a_metric_keeps_its_id_and_its_metadata_has_no_payload() {
        let mut ids = ShortIds::default();
        let first = ids.data(&[info("a", 1), info("b", 2)]);
        let again = ids.data(&[info("b", 7)]);
        let b = first.iter().find(|(_, p)| **p == [2]).unwrap().0.clone();
        assert_eq!(again, [(b.clone(), vec![7])].into());
        assert_eq!(first.len(), 2);
        let metadata = ids.metadata(&[b.clone(), "unknown".into()]);
        assert_eq!(metadata.len(), 1);
        assert_eq!(metadata[&b].labels["NAME"], "b");
        assert!(metadata[&b].payload.is_empty());
    }
}
