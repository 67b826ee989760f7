//! The identity signing keys.

use entity::signing_key::{self, Entity as SigningKey};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, EntityTrait, QueryOrder};

use crate::error::Error;

/// Every key, newest first.
pub async fn all(conn: &impl ConnectionTrait) -> Result<Vec<signing_key::Model>, Error> {
    Ok(SigningKey::find().order_by_desc(signing_key::Column::CreatedAt).all(conn).await?)
}

/// Adds a key; two replicas starting at once may both add one, and both
/// keys are then published.
pub async fn insert(conn: &impl ConnectionTrait, row: signing_key::Model) -> Result<(), Error> {
    SigningKey::insert(signing_key::ActiveModel::from(row))
        .on_conflict(OnConflict::column(signing_key::Column::Kid).do_nothing().to_owned())
        .exec_without_returning(conn)
        .await?;
    Ok(())
}
