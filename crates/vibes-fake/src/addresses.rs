//! The fake's Elastic IPs, as EC2 documents AllocateAddress, AssociateAddress and
//! ReleaseAddress: an address is tagged at allocation; associating it with an instance makes it
//! the instance's public IP (moving it from another with AllowReassociation); an instance
//! that terminates lets go of it; releasing an associated address needs it disassociated
//! first, which the adapter does, and so does the fake.

use super::{not_found, FakeCloud};
use async_trait::async_trait;
use vibes_core::cloud::{Addresses, CloudError, CloudResult};
use vibes_core::observed::ObservedAddress;
use vibes_core::tags::Tags;

#[async_trait]
impl Addresses for FakeCloud {
    async fn allocate_address(&self, tags: &Tags) -> CloudResult<(String, String)> {
        let _s = self.enter("allocate_address", "").await?;
        let mut w = self.world();
        let allocation_id = w.id("eipalloc");
        let n = w.ids_issued("eipalloc");
        let public_ip = format!("198.51.100.{}", n % 250 + 1);
        w.addresses.insert(
            allocation_id.clone(),
            ObservedAddress {
                allocation_id: allocation_id.clone(),
                public_ip: public_ip.clone(),
                instance_id: None,
                tags: tags.clone(),
            },
        );
        Ok((allocation_id, public_ip))
    }

    async fn associate_address(&self, allocation_id: &str, instance_id: &str) -> CloudResult<()> {
        let _s = self.enter("associate_address", allocation_id).await?;
        let mut w = self.world();
        let Some(address) = w.addresses.get(allocation_id).cloned() else {
            return Err(not_found(
                "associate_address",
                format!("address {allocation_id}"),
            ));
        };
        match w
            .instances
            .get(instance_id)
            .map(|i| i.observed.state.is_live())
        {
            Some(true) => {}
            Some(false) => {
                return Err(CloudError::permanent(
                    "associate_address",
                    format!("IncorrectInstanceState: {instance_id} has ended"),
                ))
            }
            None => {
                return Err(not_found(
                    "associate_address",
                    format!("instance {instance_id}"),
                ))
            }
        }
        if let Some(previous) = address.instance_id.as_deref() {
            if let Some(i) = w.instances.get_mut(previous) {
                i.observed.public_ip = None;
            }
        }
        if let Some(i) = w.instances.get_mut(instance_id) {
            i.observed.public_ip = Some(address.public_ip.clone());
        }
        w.addresses
            .get_mut(allocation_id)
            .expect("looked up")
            .instance_id = Some(instance_id.to_string());
        Ok(())
    }

    async fn release_address(&self, allocation_id: &str) -> CloudResult<()> {
        let _s = self.enter("release_address", allocation_id).await?;
        let mut w = self.world();
        if let Some(a) = w.addresses.remove(allocation_id) {
            if let Some(i) = a.instance_id.and_then(|id| w.instances.get_mut(&id)) {
                i.observed.public_ip = None;
            }
        }
        Ok(())
    }
}
