"""The interchange's models moved here from `core` (ADR 0020): their tables already exist
(created by core 0003/0004), so this migration only tells Django's state where they live."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("core", "0005_events"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='Peer',
                    fields=[
                        ('code', models.CharField(max_length=12, primary_key=True, serialize=False, verbose_name='区域代码')),
                        ('name', models.CharField(max_length=64, verbose_name='名称')),
                        ('base_url', models.URLField(blank=True, help_text='空 = 本部署内的区域租户', verbose_name='接口地址')),
                        ('public_key', models.CharField(max_length=130, verbose_name='SM2 公钥 (x‖y hex)')),
                        ('previous_public_key', models.CharField(blank=True, max_length=130, verbose_name='上一把公钥')),
                        ('previous_key_until', models.DateTimeField(blank=True, null=True, verbose_name='上一把公钥有效至')),
                        ('is_active', models.BooleanField(default=True, verbose_name='启用')),
                    ],
                    options={
                        'verbose_name': '对端区域',
                        'verbose_name_plural': '对端区域',
                        'db_table': 'core_peer',
                        'ordering': ['code'],
                    },
                ),
                migrations.CreateModel(
                    name='InboundMessage',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('sender', models.CharField(max_length=12, verbose_name='发送区域')),
                        ('recipient', models.CharField(max_length=12, verbose_name='接收区域')),
                        ('message_id', models.UUIDField(verbose_name='消息编号')),
                        ('kind', models.CharField(max_length=64, verbose_name='类型')),
                        ('payload', models.JSONField(verbose_name='内容')),
                        ('received_at', models.DateTimeField(verbose_name='接收时间')),
                        ('reply', models.JSONField(blank=True, default=dict, verbose_name='回执')),
                    ],
                    options={
                        'verbose_name': '收到的消息',
                        'verbose_name_plural': '收到的消息',
                        'db_table': 'core_inboundmessage',
                        'ordering': ['received_at'],
                        'constraints': [models.UniqueConstraint(fields=('sender', 'message_id'), name='inbound_once')],
                    },
                ),
                migrations.CreateModel(
                    name='OutboundMessage',
                    fields=[
                        ('id', models.UUIDField(primary_key=True, serialize=False)),
                        ('sender', models.CharField(max_length=12, verbose_name='发送区域')),
                        ('kind', models.CharField(max_length=64, verbose_name='类型')),
                        ('body', models.TextField(verbose_name='报文 (签名覆盖的字节, UTF-8 JSON)')),
                        ('signature', models.CharField(max_length=128, verbose_name='SM2 签名 (hex)')),
                        ('created_at', models.DateTimeField(verbose_name='创建时间')),
                        ('attempts', models.PositiveIntegerField(default=0, verbose_name='投递次数')),
                        ('next_attempt_at', models.DateTimeField(verbose_name='下次投递')),
                        ('delivered_at', models.DateTimeField(blank=True, null=True, verbose_name='送达时间')),
                        ('reply', models.JSONField(blank=True, default=dict, verbose_name='对端回执')),
                        ('last_error', models.CharField(blank=True, max_length=500, verbose_name='最近错误')),
                        ('peer', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, to='interchange.peer', verbose_name='接收区域')),
                    ],
                    options={
                        'verbose_name': '发出的消息',
                        'verbose_name_plural': '发出的消息',
                        'db_table': 'core_outboundmessage',
                        'ordering': ['created_at'],
                        'indexes': [models.Index(fields=['delivered_at', 'next_attempt_at'], name='outbound_due_idx')],
                    },
                ),
            ],
        ),
    ]
