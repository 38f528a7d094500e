//! The architecture of each image registered through the runner. moto's RegisterImage drops the
//! `Architecture` it is given (its images from RegisterImage have none), where EC2 keeps it and
//! refuses to launch the image on an instance type of another one: the runner keeps what the
//! request said and puts it back into every DescribeImages answer.

use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Default)]
pub struct Architectures {
    by_image: Mutex<BTreeMap<String, String>>,
}

impl Architectures {
    pub fn record(&self, image_id: &str, architecture: &str) {
        self.by_image
            .lock()
            .unwrap()
            .insert(image_id.to_string(), architecture.to_string());
    }

    pub fn of(&self, image_id: &str) -> Option<String> {
        self.by_image.lock().unwrap().get(image_id).cloned()
    }

    /// A DescribeImages answer with the architecture of each image the runner knows, where moto
    /// left it out.
    pub fn complete(&self, xml: &str) -> String {
        let known = self.by_image.lock().unwrap();
        let mut out = String::with_capacity(xml.len());
        let mut rest = xml;
        while let Some(i) = rest.find("<item>") {
            let (before, item_on) = rest.split_at(i);
            out.push_str(before);
            let end = item_on
                .find("</item>")
                .map_or(item_on.len(), |e| e + "</item>".len());
            let item = &item_on[..end];
            let arch = crate::aws_wire::first(item, "imageId").and_then(|id| known.get(&id));
            match arch {
                Some(a) if !item.contains("<architecture>") => {
                    let at = item
                        .find("</imageId>")
                        .map_or(0, |p| p + "</imageId>".len());
                    out.push_str(&item[..at]);
                    out.push_str(&format!(
                        "<architecture>{}</architecture>",
                        crate::aws_wire::escape(a)
                    ));
                    out.push_str(&item[at..]);
                }
                _ => out.push_str(item),
            }
            rest = &item_on[end..];
        }
        out.push_str(rest);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_gets_back_the_architecture_it_was_registered_for() {
        let a = Architectures::default();
        a.record("ami-1", "arm64");
        let xml = "<imagesSet><item><imageId>ami-1</imageId><name>w</name></item><item><imageId>ami-2</imageId></item></imagesSet>";
        assert_eq!(
            a.complete(xml),
            "<imagesSet><item><imageId>ami-1</imageId><architecture>arm64</architecture><name>w</name></item><item><imageId>ami-2</imageId></item></imagesSet>"
        );
    }
}
